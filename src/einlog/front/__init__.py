"""einlog.front: from the AST to checked, flat IR (see ``front/compiler.py``)."""

from einlog.front.compiler import compile_program

__all__ = ["compile_program"]
