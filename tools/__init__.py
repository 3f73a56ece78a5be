"""Maintainer tools (code generation); not part of the installed sxcloud package."""
