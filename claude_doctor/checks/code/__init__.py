"""Static checks on Python code and notebooks that call the Anthropic SDK (CD2xx). This package
stays import-light: ``rules`` (the definitions) is imported by the registry; the checker loads on use."""
