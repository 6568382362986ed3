"""The team work list (工作清单): one list of what a family doctor team owes its residents."""
