"""Importing a campaign file from the console: problems at their line or cell with nothing
written; a preview of what a re-import changes before the admin confirms; the confirmation
reads the file kept on the server, never one sent back by the browser.

Real YAML and XLSX files (examples/, the Excel template filled by openpyxl), real
databases on both backends.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from storage.db import transaction
from storage.db.models import Answer, AuditEntry, Campaign, Item, Person, Unit
from storage.formats.campaign_excel import write_template
from storage.formats.campaign_file import load_campaign_file
from storage.services.submissions import submission_for
from tests.chat_harness import CATALOG
from tests.conftest import EXAMPLE_CAMPAIGN
from tests.console_admin_world import World, make_world

UPLOAD = re.compile(r'name="upload" value="([^"]+)"')
EXAMPLE = EXAMPLE_CAMPAIGN.read_text(encoding="utf-8")


@pytest.fixture
async def world(db, clock, tmp_path: Path):
    async for made in make_world(db, clock, tmp_path):
        yield made


async def _upload(client: TestClient, csrf: str, name: str, body: bytes):
    form = FormData(quote_fields=False)  # a browser sends the file's name as UTF-8
    form.add_field("csrf", csrf)
    form.add_field("file", body, filename=name, content_type="application/octet-stream")
    return await client.post("/admin/import", data=form)


async def _confirm(client: TestClient, csrf: str, html: str, **extra: str):
    found = UPLOAD.search(html)
    assert found, html
    data = {"csrf": csrf, "upload": found.group(1), **extra}
    return await client.post("/admin/import/confirm", data=data, allow_redirects=False)


async def _campaigns(world: World) -> set[str]:
    async with transaction(world.db.sessions) as session:
        return set(await session.scalars(select(Campaign.code)))


async def _imports(world: World) -> int:
    async with transaction(world.db.sessions) as session:
        found = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "campaign.import")
        )
        return int(found or 0)


async def test_a_problem_is_shown_at_its_line_and_nothing_is_written(world: World) -> None:
    lines = EXAMPLE.splitlines(keepends=True)
    assert lines[36].strip() == "team: D1"  # line 37 of the example
    lines[36] = lines[36].replace("D1", "D9")
    imports = await _imports(world)
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    response = await _upload(admin, csrf, "đợt <2021>.yaml", "".join(lines).encode())
    html = await response.text()
    assert response.status == 422
    assert "Dòng 37, mục units[1].team: Không có đoàn “D9”" in html
    assert "đợt &lt;2021&gt;.yaml: có 1 lỗi cần sửa. Chưa ghi gì." in html
    assert 'name="upload"' not in html  # no way to confirm a broken file
    assert await _campaigns(world) == {"KT-A"}
    assert await _imports(world) == imports
    assert list((world.console.admin_options.upload_dir).glob("*")) == []  # not kept


async def test_a_new_campaign_is_previewed_then_imported(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    response = await _upload(admin, csrf, "hcmc.yaml", EXAMPLE.encode())
    html = await response.text()
    assert response.status == 200
    assert "Đây là đợt kiểm tra mới" in html and "23 đơn vị" in html
    assert await _campaigns(world) == {"KT-A"}  # only previewed
    done = await _confirm(admin, csrf, html)
    assert done.status == 303
    assert await _campaigns(world) == {"KT-A", "KT2021-D1"}
    page = await (await admin.get(done.headers["Location"])).text()
    assert "Đã nhập tệp đợt kiểm tra." in page
    again = await _confirm(admin, csrf, html)  # the upload is used up
    assert again.status == 410


async def _import_example(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    html = await (await _upload(admin, csrf, "hcmc.yaml", EXAMPLE.encode())).text()
    assert (await _confirm(admin, csrf, html)).status == 303


async def _answer(world: World, unit_code: str, item_code: str, value: object) -> None:
    async with transaction(world.db.sessions) as session:
        person = await session.scalar(select(Person.id).where(Person.full_name == "Quản Trị"))
        campaign = await session.scalar(select(Campaign).where(Campaign.code == "KT2021-D1"))
        assert campaign is not None and person is not None
        from storage.db.models import Assignment

        assignment = await session.scalar(
            select(Assignment.id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.campaign_id == campaign.id, Unit.code == unit_code)
        )
        item = await session.scalar(
            select(Item.id).where(Item.campaign_id == campaign.id, Item.code == item_code)
        )
        assert assignment is not None and item is not None
        submission = await submission_for(session, assignment)
        session.add(
            Answer(
                submission_id=submission.id,
                item_id=item,
                value=value,
                answered_by=person,
                answered_at=world.clock.now(),
            )
        )


async def _item_text(world: World) -> str | None:
    async with transaction(world.db.sessions) as session:
        return await session.scalar(
            select(Item.text)
            .join(Campaign, Campaign.id == Item.campaign_id)
            .where(Campaign.code == "KT2021-D1", Item.code == "1.1")
        )


async def test_reimport_preview_lists_what_changes_before_anything_is_written(
    world: World,
) -> None:
    await _import_example(world)
    await _answer(world, "BDTP", "1.2", True)
    edited = EXAMPLE.replace(
        "text: Ban hành kế hoạch CCHC năm 2021 đúng thời hạn",
        "text: Ban hành kế hoạch CCHC năm 2021 đúng hạn",
    ).replace("  - {code: BDTP, name: Bưu điện Thành phố}\n", "")
    assert edited.count("\n") == EXAMPLE.count("\n") - 1
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    html = await (await _upload(admin, csrf, "hcmc-v2.yaml", edited.encode())).text()
    changed = re.search(
        r'<li class="change-changed" data-change="changed:1.1">(.*?)</li>', html, re.S
    )
    assert changed and "nội dung" in changed.group(1)
    removed = re.search(r'data-change="removed:BDTP">(.*?)</li>', html, re.S)
    assert removed and "xóa 1 câu trả lời" in removed.group(1)
    assert html.count('data-change="') == 2  # nothing else differs
    assert 'name="force"' in html  # an answer would go: the admin must accept it
    # nothing written yet:
    assert await _item_text(world) == "Ban hành kế hoạch CCHC năm 2021 đúng thời hạn"
    refused = await _confirm(admin, csrf, html)  # without accepting the loss
    assert refused.status == 200
    assert "đánh dấu ô để chấp nhận" in await refused.text()
    done = await _confirm(admin, csrf, html, force="1")
    assert done.status == 303
    assert await _item_text(world) == "Ban hành kế hoạch CCHC năm 2021 đúng hạn"
    async with transaction(world.db.sessions) as session:
        answers = await session.scalar(select(func.count()).select_from(Answer))
    assert answers == 0  # BDTP's, with the unit


async def test_the_same_file_again_changes_nothing(world: World) -> None:
    await _import_example(world)
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    html = await (await _upload(admin, csrf, "hcmc.yaml", EXAMPLE.encode())).text()
    assert "nhập lại không thay đổi gì" in html
    assert 'data-change="' not in html


async def test_an_upload_is_bound_to_its_browser_session(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    html = await (await _upload(admin, csrf, "hcmc.yaml", EXAMPLE.encode())).text()
    other, other_csrf = await world.sign_in("admin")  # the same admin, another browser
    stolen = await _confirm(other, other_csrf, html)
    assert stolen.status == 410
    assert "tải tệp lên lại" in await stolen.text()
    made_up = await other.post(
        "/admin/import/confirm", data={"csrf": other_csrf, "upload": "../../etc/passwd"}
    )
    assert made_up.status == 410
    assert await _campaigns(world) == {"KT-A"}
    assert (await _confirm(admin, csrf, html)).status == 303  # its own session still can


async def test_wrong_type_and_too_big_are_refused(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    wrong = await _upload(admin, csrf, "notes.txt", b"hello")
    assert wrong.status == 422 and "Chỉ nhập được tệp .yaml" in await wrong.text()
    big = await _upload(admin, csrf, "big.yaml", b"#" * 300_000)
    assert big.status == 422 and "Tệp lớn hơn" in await big.text()
    assert list(world.console.admin_options.upload_dir.glob("*")) == []


async def test_a_workbook_problem_is_shown_at_its_cell(world: World, tmp_path: Path) -> None:
    spec, problems = load_campaign_file(EXAMPLE_CAMPAIGN)
    assert spec is not None and not problems
    path = tmp_path / "dot.xlsx"
    write_template(path, example=spec, locale="vi", catalog=CATALOG)
    book = load_workbook(path)
    units = book["Đơn vị"]
    header = [cell.value for cell in units[1]]
    team_column = next(i for i, v in enumerate(header, 1) if v and "(team)" in str(v))
    units.cell(row=3, column=team_column, value="D9")
    book.save(path)
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    response = await _upload(admin, csrf, "dot.xlsx", path.read_bytes())
    html = await response.text()
    assert response.status == 422
    assert re.search(r"Trang Đơn vị, dòng 3, cột [A-Z]+ \(team\): Không có đoàn “D9”", html), html
    assert await _campaigns(world) == {"KT-A"}
