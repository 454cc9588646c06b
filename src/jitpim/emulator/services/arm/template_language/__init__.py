"""The ARM template language subset the emulator evaluates: expressions (`expressions.py`), the functions
(`functions.py`) and a template's parameters, variables, resources and outputs (`template.py`). No HTTP here."""
