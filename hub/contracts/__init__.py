"""Contracts (签约服务): regional policies, packages, fees, lifecycle rules and fulfilment."""
