"""Small campaigns built in code, for tests that should not depend on the YAML parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from storage.formats.campaign_spec import (
    CampaignSpec,
    EvidencePolicy,
    InspectionForm,
    ItemSpec,
    ItemType,
    ReminderPolicy,
    SectionSpec,
    TeamSpec,
    UnitSpec,
    VisitSpec,
)

DEADLINE = datetime(2021, 9, 30, 10, 0, tzinfo=UTC)  # 17:00 in Asia/Ho_Chi_Minh


def items() -> tuple[ItemSpec, ...]:
    return (
        ItemSpec(
            "1.1",
            "Ban hành kế hoạch CCHC năm đúng thời hạn",
            ItemType.DATE,
            evidence=EvidencePolicy.REQUIRED,
            points=1,
            scoring={"rule": "on_or_before", "date": "2020-12-31", "late": 0.5},
        ),
        ItemSpec(
            "1.2",
            "Kế hoạch xác định đầy đủ nhiệm vụ và bố trí kinh phí",
            ItemType.YESNO,
            evidence=EvidencePolicy.REQUIRED,
            points=1,
            scoring={"rule": "yes"},
        ),
        ItemSpec(
            "1.3",
            "Mức độ hoàn thành kế hoạch CCHC",
            ItemType.PERCENT,
            points=2,
            scoring={"rule": "at_least", "steps": [[90.0, 2.0], [70.0, 1.0]]},
        ),
        ItemSpec(
            "5.2",
            "Số cán bộ, công chức bị kỷ luật trong năm",
            ItemType.NUMBER,
            points=1,
            min=0,
            scoring={"rule": "at_most", "steps": [[0.0, 1.0]]},
        ),
        ItemSpec(
            "7.3",
            "Hệ thống quản lý chất lượng ISO được duy trì",
            ItemType.CHOICE,
            options=("Đã áp dụng", "Đang xây dựng", "Chưa"),
            evidence=EvidencePolicy.OPTIONAL,
            points=0.5,
            scoring={"rule": "choices", "points": {"Đã áp dụng": 0.5}},
        ),
        ItemSpec(
            "7.4",
            "Các hệ thống dùng chung đang sử dụng",
            ItemType.MULTI,
            options=("Một cửa điện tử", "Quản lý văn bản", "Chữ ký số"),
            required=False,
        ),
        ItemSpec("9.1", "Khó khăn, vướng mắc và kiến nghị", ItemType.TEXT, required=False),
    )


def campaign(code: str = "KT-TEST", units: int = 3, **overrides: object) -> CampaignSpec:
    unit_specs = tuple(
        UnitSpec(
            code=f"U{n}",
            name=f"Ủy ban nhân dân Phường {n}",
            team="D1",
            form=InspectionForm.REPORT,
            contacts=2 if n == 1 else 1,
        )
        for n in range(1, units + 1)
    )
    if units >= 2:
        unit_specs = (
            unit_specs[0],
            replace(
                unit_specs[1],
                deadline=DEADLINE - timedelta(days=2),
                visit=VisitSpec(DEADLINE + timedelta(days=5), "Trụ sở UBND", True),
            ),
            *unit_specs[2:],
        )
    base = CampaignSpec(
        code=code,
        title="Kiểm tra công tác CCHC - thử nghiệm",
        timezone="Asia/Ho_Chi_Minh",
        deadline=DEADLINE,
        basis="Kế hoạch số 1/KH-UBND",
        policy=ReminderPolicy(
            reminders=(timedelta(days=3), timedelta(hours=2)), overdue_every=timedelta(days=1)
        ),
        teams=(TeamSpec("D1", "Đoàn kiểm tra số 1", leaders=1, members=1),),
        units=unit_specs,
        sections=(
            SectionSpec("1. Công tác chỉ đạo, điều hành CCHC", items()[:3]),
            SectionSpec("5. Cải cách chế độ công vụ", items()[3:4]),
            SectionSpec("7. Chính quyền điện tử", items()[4:]),
        ),
    )
    return replace(base, **overrides)
