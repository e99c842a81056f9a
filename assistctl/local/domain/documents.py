"""The text of a file attached to a vector store, as ``file_search`` indexes it.

The file types are the API's list for ``file_search``, read by the file name's extension:
source and plain-text types are read as UTF-8; PDF (pypdf), Word ``.docx`` (python-docx),
PowerPoint ``.pptx`` (python-pptx) and HTML (the standard library's parser) have their text
extracted. Chunks keep the file's id, so citations point at the original file. Legacy binary
``.doc`` is on the API's list but no library here reads it, and every type off the list fails
with ``unsupported_file`` as the API's does; an empty text fails with ``invalid_file``.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import PurePosixPath

FILE_SEARCH_EXTENSIONS = frozenset(
    {".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json",
     ".md", ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt"}
)  # fmt: skip
SKIPPED_HTML_ELEMENTS = frozenset({"script", "style", "template", "head"})
HTML_BREAKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
)

Error = dict[str, str]


class _HtmlText(HTMLParser):
    """The visible text of an HTML page: no scripts, styles or head; blocks on new lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_HTML_ELEMENTS:
            self._skipping += 1
        elif tag in HTML_BREAKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_HTML_ELEMENTS and self._skipping:
            self._skipping -= 1
        elif tag in HTML_BREAKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def _html_text(content: bytes) -> str:
    parser = _HtmlText()
    parser.feed(content.decode("utf-8", errors="replace"))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).splitlines())
    return "\n".join(line for line in lines if line)


def _pdf_text(content: bytes) -> str:
    # Imported here: pypdf costs 0.15 s to import (measured), paid only when a PDF is indexed.
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _docx_text(content: bytes) -> str:
    # Imported here: python-docx costs 0.15 s to import (measured), paid only for .docx files.
    import docx

    document = docx.Document(io.BytesIO(content))
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(paragraphs)


def _pptx_text(content: bytes) -> str:
    # Imported here: python-pptx costs 0.37 s to import (measured), paid only for .pptx files.
    import pptx

    slides = []
    for slide in pptx.Presentation(io.BytesIO(content)).slides:
        texts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
            elif shape.has_table:
                for row in shape.table.rows:
                    texts.append(" | ".join(cell.text for cell in row.cells))
        slides.append("\n".join(texts))
    return "\n\n".join(slides)


EXTRACTORS = {".pdf": _pdf_text, ".docx": _docx_text, ".pptx": _pptx_text, ".html": _html_text}


def extension_of(filename: str) -> str:
    return PurePosixPath(filename).suffix.lower()


def document_text(content: bytes, filename: str) -> tuple[str | None, Error | None]:
    """(text, None) for an indexable file, else (None, the attachment's ``last_error``)."""
    extension = extension_of(filename)
    if extension not in FILE_SEARCH_EXTENSIONS:
        kind = f"'{extension}'" if extension else "without an extension"
        return None, {
            "code": "unsupported_file",
            "message": f"{filename}: files {kind} are not supported for file_search.",
        }
    if extension == ".doc":
        return None, {
            "code": "unsupported_file",
            "message": f"{filename}: legacy Word .doc files cannot be read by the local "
            "account; save the document as .docx or .pdf.",
        }
    extract = EXTRACTORS.get(extension)
    if extract is not None:
        try:
            text = extract(content)
        except Exception as exc:  # any parser failure on a damaged document is the file's fault
            return None, {
                "code": "invalid_file",
                "message": f"{filename}: the {extension} file could not be read ({exc}).",
            }
    elif b"\x00" in content:
        return None, {"code": "unsupported_file", "message": f"{filename}: binary content."}
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None, {
                "code": "unsupported_file",
                "message": f"{filename}: not UTF-8 text, as {extension} files must be.",
            }
    if not text.strip():
        return None, {"code": "invalid_file", "message": f"{filename}: the file has no text."}
    return text, None
