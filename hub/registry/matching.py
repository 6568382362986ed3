"""Online record linkage for the master patient index (主索引, MPI).

A source record becomes `Features` once (normalised, pinyin cached); `blocking_keys`
names the index entries under which candidate residents are found, so the cost per
record stays flat as the registry grows. `Linker` then decides in two tiers:

1. deterministic — a valid ID number (身份证号) consistent with the record's birth date
   and name is CERTAIN; two different valid ID numbers, or two different mothers' ID
   numbers, are never the same person; pairs a person has separated stay separated;
   twins (双胞胎: same mother, same birth date, different name or sex) are never
   merged automatically;
2. probabilistic — Fellegi–Sunter weights from `LinkageModel` (a versioned JSON file,
   re-estimated by `hub.registry.train`), compared against each of a candidate
   resident's source records, keeping the best level per field; a name's weight is
   lowered when the name is common (term frequency); a best candidate must clearly
   lead any other before it is linked.

Pure Python, no database: the SQL-backed index implements `CandidateIndex`, or
fetches candidates itself and calls `Linker.rank` and `Linker.decide`.
"""

# The matcher lives in hub.registry.matcher (features, model, compare, linker); this
# module keeps the one import path the rest of the hub and the tests use.
from hub.registry.matcher.compare import (
    Comparison,
    combine,
    compare,
    ids_conflict,
    looks_like_twins,
    name_level,
    same_id,
)
from hub.registry.matcher.features import Features, blocking_keys
from hub.registry.matcher.linker import (
    Candidate,
    CandidateIndex,
    Decision,
    InMemoryIndex,
    Linker,
    NameCounts,
    Outcome,
    ResidentId,
    Separated,
)
from hub.registry.matcher.model import (
    DEFAULT_MODEL_PATH,
    LEVELS,
    Grade,
    LinkageModel,
    NameFrequency,
)

__all__ = [
    "DEFAULT_MODEL_PATH", "LEVELS", "Candidate", "CandidateIndex", "Comparison", "Decision",
    "Features", "Grade", "InMemoryIndex", "LinkageModel", "Linker", "NameCounts",
    "NameFrequency", "Outcome", "ResidentId", "Separated", "blocking_keys", "combine",
    "compare", "ids_conflict", "looks_like_twins", "name_level", "same_id",
]  # fmt: skip
