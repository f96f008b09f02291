"""What the evidence store keeps: no empty file, no file whose bytes are not of the type its
name claims, names safe to store (in bytes, not letters), sizes shown truthfully."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from common.messages import InboundKind
from storage.db.models import EvidenceFile
from storage.rules.file_content import CHECKS, HEAD_BYTES, ContentProblem, content_problem
from storage.services.evidence import (
    ALLOWED_EXTENSIONS,
    MAX_NAME_BYTES,
    EvidenceStore,
    RefusedFile,
    safe_name,
)
from tests.chat_harness import Chat
from tests.test_handlers_checklist import JPEG, PDF, _joined, world  # noqa: F401 (fixture)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"
HTML = b"<!DOCTYPE html><html><body>404 Not Found</body></html>"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"


def test_every_allowed_extension_has_a_content_check() -> None:
    assert set(CHECKS) == ALLOWED_EXTENSIONS


@pytest.mark.parametrize(
    ("head", "extension", "problem"),
    [
        (PDF, "pdf", None),
        (JPEG, "jpg", None),
        (JPEG, "jpeg", None),
        (PNG, "png", None),
        (b"GIF89a\x01\x00", "gif", None),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "heic", None),
        (b"II*\x00\x08\x00", "tif", None),
        (ZIP, "docx", None),
        (ZIP, "xlsx", None),
        (ZIP, "pptx", None),
        (ZIP, "odt", None),
        (ZIP, "zip", None),
        (OLE, "doc", None),
        (OLE, "xls", None),
        (b"{\\rtf1\\ansi", "rtf", None),
        (b"Rar!\x1a\x07\x01\x00", "rar", None),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z", None),
        ("Mã,Tên\nU1,Phường 1\n".encode(), "csv", None),
        ("\ufeffMã\tTên".encode("utf-16"), "txt", None),  # Excel's "Unicode text"
        (b"<?xml version='1.0'?><a/>", "xml", None),
        (b"", "pdf", ContentProblem.EMPTY),
        (b"PK\x05\x06" + b"\x00" * 18, "zip", ContentProblem.EMPTY),  # an archive of nothing
        (HTML, "pdf", ContentProblem.MISMATCH),  # a web page saved as .pdf
        (EXE, "pdf", ContentProblem.MISMATCH),
        (EXE, "txt", ContentProblem.MISMATCH),
        (PDF, "jpg", ContentProblem.MISMATCH),
        (b"\xff\xd8jpeg", "jpg", ContentProblem.MISMATCH),
        (ZIP, "xls", ContentProblem.MISMATCH),  # a .xlsx renamed .xls
        (OLE, "docx", ContentProblem.MISMATCH),  # a .doc renamed .docx
        (b"%PDF", "pdf", ContentProblem.MISMATCH),  # truncated
        (PDF, "exe", ContentProblem.MISMATCH),  # no check: never allowed
    ],
)
def test_content_against_the_claimed_type(
    head: bytes, extension: str, problem: ContentProblem | None
) -> None:
    assert content_problem(head[:HEAD_BYTES], len(head), extension) == problem


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Kế hoạch 61.pdf", "Kế hoạch 61.pdf"),
        ("Ke\u0302\u0301 hoa\u0323ch.pdf", "Kế hoạch.pdf"),  # decomposed: NFC
        ("báo/cáo.pdf", "báo_cáo.pdf"),
        ("..\\..\\boot.ini", "_.._boot.ini"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("", "file"),
        ("..", "file"),
        (" . ", "file"),
        (".pdf", "pdf"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ("anh\u202egpj.exe", "anh_gpj.exe"),  # a right-to-left override would show "exe.jpg"
        ("lone\ud800.pdf", "lone_.pdf"),  # not UTF-8: it could not be written
        ('<b>"x"</b>?.pdf', "_b__x___b__.pdf"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize("letter", ["a", "ệ", "😀"])
def test_safe_names_are_capped_in_bytes_with_the_extension_kept(letter: str) -> None:
    name = safe_name(letter * 300 + ".docx")
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(".docx")
    assert name.removesuffix(".docx").strip(letter) == ""  # whole letters only
    assert safe_name("x." + "y" * 300) == ("x." + "y" * 300)[:MAX_NAME_BYTES]  # no extension


def test_the_store_refuses_empty_and_mismatched_files_and_keeps_names_short(
    tmp_path: Path,
) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    for data, name, problem in [
        (b"", "a.pdf", ContentProblem.EMPTY),
        (HTML, "a.pdf", ContentProblem.MISMATCH),
    ]:
        temp = store.incoming_path()
        temp.write_bytes(data)
        with pytest.raises(RefusedFile) as refused:
            store.keep(temp, folder=("KT", "U1", "1.1"), file_name=name)
        assert refused.value.problem == problem
    temp = store.incoming_path()
    temp.write_bytes(PDF)
    stored = store.keep(temp, folder=("KT", "../..", "1/1"), file_name="ệ" * 300 + "/x.pdf")
    path = store.path_of(stored.relative_path).resolve()
    assert path.is_file() and path.is_relative_to((tmp_path / "evidence").resolve())
    assert stored.file_name == path.name.split("-", 1)[1] and len(path.name.encode()) <= 255


# -- in the chat -----------------------------------------------------------------------------


async def _at_evidence(world, clock, **kw) -> Chat:  # noqa: F811
    chat = await _joined(world, clock, **kw)
    await chat.command("checklist")
    await chat.text("31/12/2020")  # 1.1 answered: its evidence is asked for
    assert "tài liệu kiểm chứng" in chat.text_out or "evidence" in chat.text_out
    return chat


async def _kept(db) -> list[EvidenceFile]:
    async with db.sessions() as session:
        return list(await session.scalars(select(EvidenceFile)))


@pytest.mark.parametrize("told", [0, None])  # the platform says 0 bytes, or says nothing
async def test_an_empty_file_is_refused_with_what_to_do(world, db, clock, told):  # noqa: F811
    chat = await _at_evidence(world, clock)
    await chat.file("bao-cao.pdf", b"", size=told)
    assert "Tệp «bao-cao.pdf» rỗng (0 byte) nên chưa được lưu" in chat.text_out
    assert chat.button("Tiếp tục") and await _kept(db) == []


async def test_a_file_not_of_its_claimed_type_is_refused(world, db, clock):  # noqa: F811
    chat = await _at_evidence(world, clock, language="en")
    await chat.file("bao-cao.pdf", HTML)
    assert "«bao-cao.pdf» is not a real .pdf file" in chat.text_out
    await chat.file("bang-tinh.xls", ZIP, "application/vnd.ms-excel")
    assert "not a real .xls file" in chat.text_out
    await chat.file("anh.jpg", PNG, "image/jpeg", InboundKind.PHOTO)
    assert "not a real .jpg file" in chat.text_out
    assert await _kept(db) == []
    await chat.file("bang-tinh.xlsx", ZIP)
    await chat.file("cong-van.doc", OLE)
    assert "now has 2 files" in chat.text_out and len(await _kept(db)) == 2


@pytest.mark.parametrize(
    ("language", "size", "shown"),
    [
        ("vi", 850, "(850 B)"),
        ("vi", 1536, "(1,5 KB)"),
        ("en", 1536, "(1.5 KB)"),
        ("vi", 3 * 1048576 // 2, "(1,5 MB)"),
    ],
)
async def test_sizes_are_shown_truthfully(world, clock, language, size, shown):  # noqa: F811
    chat = await _at_evidence(world, clock, language=language)
    await chat.file("ke-hoach.pdf", PDF + b"0" * (size - len(PDF)))
    assert shown in chat.text_out


async def test_a_long_or_odd_file_name_is_kept_under_a_safe_name(world, db, clock):  # noqa: F811
    chat = await _at_evidence(world, clock)
    name = "Q3/2021 Báo cáo kết quả thực hiện nhiệm vụ cải cách hành chính" * 6 + ".pdf"
    await chat.file(name, PDF)
    assert "Đã nhận «Q3_2021 Báo cáo kết quả" in chat.text_out
    [kept] = await _kept(db)
    assert "/" not in kept.file_name and kept.file_name.endswith(".pdf")
    assert len(kept.file_name.encode()) <= MAX_NAME_BYTES
    assert f"«{kept.file_name}»" in chat.text_out  # what is shown is what is kept


async def test_a_refused_type_with_a_huge_extension_is_told_briefly(world, clock):  # noqa: F811
    chat = await _at_evidence(world, clock)
    await chat.file("virus." + "x" * 5000, b"MZ")
    assert "Không nhận tệp loại «.xxxxxxxxxxxxxxxx»" in chat.text_out
    assert len(chat.text_out) < 300
