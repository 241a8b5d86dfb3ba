"""headcount: executable companion to "The Effect of Attention Head Count on Transformer Approximation".

Import-only: no work at import time. Modules by concept: tasks, model, train, batched, store, sweep,
params, claims, plots, theory, constructions, runner, cli; pages.<notebook> holds each page's
parameter spec and experiment definition.
"""

__version__ = "0.1.0"
