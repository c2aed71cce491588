"""Procuratorial documents: the 检察建议书 value object, document numbers, DOCX and PDF export.

Public API::

    from fieldkit.documents import (SuggestionDocument, FactItem, PhotoAnnexItem, Layout,
                                    NumberingScheme, allocate_number, export_docx, export_pdf)

Nothing here touches the database: numbers are allocated through the small
:class:`~.numbering.SequenceStore` port, and exporters take a plain :class:`SuggestionDocument`.
"""

from .docx_ import export_docx
from .fonts import FontFile, Layout, resolve_pdf_fonts
from .numbering import (
                        DEFAULT_PATTERN,
                        DocNumber,
                        MemorySequenceStore,
                        NumberingScheme,
                        SequenceStore,
                        allocate_number,
                        next_sequence,
)
from .pdf_ import export_pdf
from .suggestion import (
                        Block,
                        FactItem,
                        PhotoAnnexItem,
                        SuggestionDocument,
                        cn_date,
                        deadline_text,
                        objection_text,
)

__all__ = [
    "DEFAULT_PATTERN", "Block", "DocNumber", "FactItem", "FontFile", "Layout", "MemorySequenceStore",
    "NumberingScheme", "PhotoAnnexItem", "SequenceStore", "SuggestionDocument", "allocate_number",
    "cn_date", "deadline_text", "export_docx", "export_pdf", "next_sequence", "objection_text",
    "resolve_pdf_fonts",
]
