"""Checks: each consumes one kind of input (stream events, an AST, a file, the environment) and
yields findings for the rules it defines."""
