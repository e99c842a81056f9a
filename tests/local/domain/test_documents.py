"""PDF, Word, PowerPoint and HTML files attached to a vector store have their text extracted
(fixtures made here, with the same libraries or by hand); search and citations point at the
original file; types off the API's file_search list fail as the API's do."""

from __future__ import annotations

import io
import time

import docx
import openai
import pptx
import pytest

from assistctl.local.domain.documents import document_text


def pdf_with(text: str) -> bytes:
    """A minimal one-page PDF showing ``text`` (Helvetica), with an exact cross-reference
    table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def docx_with(paragraph: str, cell: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(paragraph)
    document.add_table(rows=1, cols=1).rows[0].cells[0].text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_with(title: str, body: str) -> bytes:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = body
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


HTML = (
    b"<html><head><title>hidden</title><style>p {color: red}</style></head><body>"
    b"<h1>Returns</h1><script>var secret = 1;</script><p>Refunds take 9 days.</p></body></html>"
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("report.pdf", pdf_with("Quarterly zebra revenue grew"), "Quarterly zebra revenue grew"),
        ("memo.docx", docx_with("Kangaroo policy memo", "cell text"), "Kangaroo policy memo"),
        ("memo.docx", docx_with("x", "Table narwhal cell"), "Table narwhal cell"),
        ("deck.pptx", pptx_with("Ocelot roadmap", "Ship in spring"), "Ocelot roadmap"),
        ("deck.pptx", pptx_with("t", "Ship in spring"), "Ship in spring"),
        ("page.html", HTML, "Returns\nRefunds take 9 days."),
        ("notes.md", "Café notes".encode(), "Café notes"),
    ],
)
def test_text_is_extracted_per_type(name, content, expected):
    text, error = document_text(content, name)
    assert error is None and expected in (text or "")


def test_html_drops_scripts_styles_and_the_head():
    text, _ = document_text(HTML, "page.html")
    assert text == "Returns\nRefunds take 9 days."


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n", "unsupported_file"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported_file"),
        ("README", b"plain text", "unsupported_file"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "unsupported_file"),
        ("data.json", b"\x00\x01", "unsupported_file"),
        ("broken.pdf", b"%PDF-1.4 not really", "invalid_file"),
        ("broken.docx", b"PK not a zip", "invalid_file"),
        ("empty.pdf", pdf_with(""), "invalid_file"),
    ],
)
def test_what_cannot_be_read_fails_with_the_api_code(name, content, code):
    text, error = document_text(content, name)
    assert text is None and error is not None and error["code"] == code


def test_documents_are_searched_and_cited_by_their_original_file(client):
    uploads = {
        name: client.files.create(file=(name, content), purpose="assistants")
        for name, content in (
            ("report.pdf", pdf_with("The zebra index rose by 4 percent")),
            ("memo.docx", docx_with("Kangaroo travel is reimbursed monthly", "n/a")),
            ("deck.pptx", pptx_with("Ocelot launch", "The ocelot ships in spring")),
            ("photo.png", b"\x89PNG\r\n\x1a\n"),
        )
    }
    store = client.vector_stores.create(file_ids=[f.id for f in uploads.values()])
    deadline = time.monotonic() + 5
    while client.vector_stores.retrieve(store.id).status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    failed = client.vector_stores.files.list(store.id, filter="failed").data
    assert [f.id for f in failed] == [uploads["photo.png"].id]
    assert failed[0].last_error.code == "unsupported_file"
    for query, name in (("zebra index", "report.pdf"), ("kangaroo travel", "memo.docx")):
        hits = client.vector_stores.search(store.id, query=query).data
        assert hits[0].file_id == uploads[name].id and hits[0].filename == name
    content = client.vector_stores.files.content(uploads["deck.pptx"].id, vector_store_id=store.id)
    assert "The ocelot ships in spring" in content.data[0].text
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What about the ocelot launch?"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=20
    )
    assert run.status == "completed"
    answer = client.beta.threads.messages.list(thread.id).data[0].content[0].text
    cited = {a.file_citation.file_id for a in answer.annotations if a.type == "file_citation"}
    assert cited == {uploads["deck.pptx"].id}


def test_the_sdk_sees_a_failed_document_as_a_failed_file(client):
    broken = client.files.create(file=("broken.pdf", b"%PDF-1.4 junk"), purpose="assistants")
    store = client.vector_stores.create(file_ids=[broken.id])
    attachment = client.vector_stores.files.retrieve(broken.id, vector_store_id=store.id)
    assert isinstance(attachment, openai.types.vector_stores.VectorStoreFile)
    assert attachment.status == "failed" and attachment.last_error.code == "invalid_file"
