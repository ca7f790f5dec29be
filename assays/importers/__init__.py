"""PURE parsers of instrument exports, one module per vendor format, and the registry that picks one.

``assays.importers.registry.parse(data, file_name=..., format=None) -> ParsedRun``.
"""
