"""One module per book page that runs experiments: its ParamSpec (SPEC) and its sweep definitions.

Notebooks call these; the runner validates parameters with SPEC before a kernel starts."""
