"""``DeviceState`` and ``CampaignCounters`` are native classes when compiled (mypyc) and
dataclasses for msgspec: the service stores them as the same JSON, with the same
validation, as the msgspec Structs they were (``Stored*`` below, their old definition)."""

from __future__ import annotations

from dataclasses import fields

import msgspec
import pytest

from sim.rules.state import CampaignCounters, DeviceState, Permission


class StoredCounters(msgspec.Struct):
    shown: int = 0
    clicked: int = 0
    dismissed: int = 0
    last_shown_at: float | None = None
    day: int = -1
    shown_today: int = 0
    session: int = -1
    shown_this_session: int = 0
    last_dismissed_at: float | None = None  # issue 24: gap_list counts from it


class StoredState(msgspec.Struct, kw_only=True):
    profile: str
    permission: Permission
    installed: bool = True
    sdk_reports_permission: bool = True
    dialogs_shown: int = 0
    dialogs_answered: int = 0
    denials: int = 0
    dismissals: int = 0
    ignores: int = 0
    quiet_dismissals: int = 0
    quiet_ignores: int = 0
    embargo_until: float | None = None
    uninstalled_at: float | None = None
    last_active_at: float | None = None
    sessions: int = 0
    campaigns: dict[str, StoredCounters] = msgspec.field(default_factory=dict)
    last_in_app_at: float | None = None
    utc_offset_minutes: int = 0
    channel_created: bool = False
    dialog_open: bool = False
    review_notice_at: float | None = None
    user_gesture: bool = False
    revocation_proposed_at: float | None = None  # issue 24: the life after opt-in
    revoked_at: float | None = None
    revocation_ignored_until: float | None = None
    silent_pushes: int = 0
    push_unsubscribed: bool = False


def _busy() -> DeviceState:
    st = DeviceState(profile="chrome", permission="denied", installed=False,
                     sdk_reports_permission=False, dialogs_shown=3, dialogs_answered=2,
                     denials=1, dismissals=2, ignores=1, quiet_dismissals=1, quiet_ignores=1,
                     embargo_until=20.5, uninstalled_at=30.25, last_active_at=29.0,
                     sessions=7, last_in_app_at=28.5, utc_offset_minutes=-300)
    st.campaigns["soft"] = CampaignCounters(shown=2, clicked=1, dismissed=1,
                                            last_shown_at=28.5, day=28, shown_today=1,
                                            session=7, shown_this_session=1,
                                            last_dismissed_at=28.75)
    return st


def test_the_json_is_the_structs() -> None:
    """Field for field and byte for byte, a fresh install and a busy one."""
    for st in (DeviceState(profile="ios", permission="not_determined"), _busy()):
        raw = msgspec.json.encode(st)
        assert raw == msgspec.json.encode(msgspec.json.decode(raw, type=StoredState))
        assert msgspec.json.decode(raw, type=DeviceState) == st


def test_msgspec_sees_the_declared_types() -> None:
    """mypyc erases ``Literal``, optional and ``dict[str, ...]`` annotations to their runtime
    class; the module gives them back, so msgspec validates as it did for the Structs."""
    def shape(t: object) -> list[tuple[str, object, bool]]:
        info = msgspec.inspect.type_info(t)  # type: ignore[arg-type]
        return [(f.name, f.type, f.required) for f in info.fields]  # type: ignore[attr-defined]

    mine, stored = shape(DeviceState), shape(StoredState)
    assert [n for n, _, _ in mine] == [n for n, _, _ in stored]
    for (name, t, req), (_, want, want_req) in zip(mine, stored, strict=True):
        assert req == want_req, name
        if name == "campaigns":
            assert isinstance(t, msgspec.inspect.DictType)
            assert isinstance(t.value_type, msgspec.inspect.DataclassType)
        else:
            assert t == want, name


@pytest.mark.parametrize(("raw", "where"), [
    (b'{"profile": "ios", "permission": "maybe"}', "$.permission"),
    (b'{"profile": "ios", "permission": "granted", "embargo_until": "soon"}',
     "$.embargo_until"),
    (b'{"profile": "ios", "permission": "granted", "campaigns": {"a": {"shown": "x"}}}',
     "$.campaigns[...].shown"),
])
def test_a_bad_stored_state_is_an_error_naming_the_field(raw: bytes, where: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=f"at `{where.replace('$', '[$]')}"
                       .replace("[...]", r"\[\.\.\.\]")):
        msgspec.json.decode(raw, type=DeviceState)


def test_which_defaults_a_missing_field_would_lose() -> None:
    """msgspec allocates a dataclass without running ``__init__`` and fills in the defaults of
    the fields it finds missing; a native int or bool field is never missing (it reads 0 or
    False), so one whose default is anything else would come back wrong from JSON that
    lacks it. The service writes every field of every state it stores, and these four have
    been in every state it ever wrote; a new field with such a default fails here, so that
    its author decides what older stored states without it mean."""
    lossy = {(cls.__name__, f.name) for cls in (DeviceState, CampaignCounters)
             for f in fields(cls) if f.type in ("int", "bool", int, bool)
             and f.default not in (0, False)}
    assert lossy == {("DeviceState", "installed"), ("DeviceState", "sdk_reports_permission"),
                     ("CampaignCounters", "day"), ("CampaignCounters", "session")}
    # Optional and container fields are filled in as with the Structs.
    st = msgspec.json.decode(b'{"profile": "ios", "permission": "granted",'
                             b' "installed": true, "sdk_reports_permission": true}',
                             type=DeviceState)
    assert st == DeviceState(profile="ios", permission="granted")
