"""coderig on a Ray cluster: generate, score (as shards), merge, analyze and export as Ray tasks.

The runner is orchestration around the four stage commands, which it starts as processes inside Ray
tasks; the stages know nothing of Ray. Every task reads and writes the one run store, a path every
node sees (checked at start). See docs/scale-out.md.
"""

__version__ = "0.1.0"
