"""The Teams cards and translations of two-way alignment, as pure functions: the inline forms on the
announcement and reminder, the question and answer cards, the typeahead query."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.teams import cards, translate
from bot.errors import InvalidInput
from bot.model import Announcement, Expectation
from bot.questions import Question, QuestionKind, QuestionState

WHEN = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def announcement(**changes: object) -> Announcement:
    values: dict[str, object] = {
        "change_key": "CHG-7",
        "title": "New rota",
        "what": "Weekend on-call.",
        "why": "",
        "effective_date": date(2026, 12, 14),
        "ack_deadline": date(2026, 12, 10),
        "announcer_id": "aad-ann",
        "expectations": (Expectation("Support", "", "Answer pages."),),
        "delivery_id": 12,
    }
    return Announcement(**(values | changes))  # type: ignore[arg-type]


def question(**changes: object) -> Question:
    values: dict[str, object] = {
        "id": 3,
        "change_id": 7,
        "change_key": "CHG-7",
        "title": "New rota",
        "delivery_id": 12,
        "asker_id": "aad-s1",
        "owner_id": "aad-ann",
        "kind": QuestionKind.CONCERN,
        "text": "We cannot.\nNot by then.",
        "asked_at": WHEN,
    }
    return Question(**(values | changes))  # type: ignore[arg-type]


def titles(card: cards.Card) -> list[str]:
    return [a["title"] for a in card.get("actions", ())]


def test_the_announcement_asks_and_keeps_asking_after_acknowledging() -> None:
    assert titles(cards.announcement(announcement())) == ["Acknowledge", "Ask a question", "I have a concern"]
    done = cards.announcement(announcement(acknowledged_at=WHEN))
    assert titles(done) == ["Ask a question", "I have a concern"]
    assert "actions" not in cards.announcement(announcement(), preview=True)


def test_each_rendering_gets_its_own_form_id_unless_one_is_kept() -> None:
    def requests(card: cards.Card) -> set[str]:
        return {a["card"]["actions"][0]["data"]["request"] for a in card["actions"][1:]}

    first, second = requests(cards.announcement(announcement())), requests(cards.announcement(announcement()))
    assert len(first) == 1 and first != second  # one id for both forms of one card; a new card, a new id
    kept = cards.announcement(announcement(), request="abc", typed={"concern": "Too soon"}, note="x")
    concern = next(a["card"] for a in kept["actions"] if a["title"] == "I have a concern")
    assert requests(kept) == {"abc"} and concern["body"][0]["value"] == "Too soon"


def test_own_words_turn_acknowledge_into_a_one_line_form_on_announcement_and_reminder() -> None:
    for card in (
        cards.announcement(announcement(own_words=True)),
        cards.reminder(announcement(own_words=True)),
    ):
        acknowledge = card["actions"][0]
        assert acknowledge["type"] == "Action.ShowCard"
        [line] = acknowledge["card"]["body"]
        assert line["id"] == cards.OWN_WORDS_INPUT and line["isRequired"] and line["maxLength"] == 300
        assert acknowledge["card"]["actions"][0]["verb"] == cards.ACK_WORDS_VERB


def test_the_owners_card_has_answer_and_for_a_concern_mark_resolved_until_resolved() -> None:
    names = {"aad-s1": "Sam One", "aad-ann": "Ann"}
    open_concern = cards.question(question(), names)
    assert titles(open_concern) == ["Answer", "Mark resolved"]
    assert "Concern from Sam One about CHG-7" in str(open_concern)
    assert titles(cards.question(question(kind=QuestionKind.QUESTION), names)) == ["Answer"]
    answered = question(answer="Let's talk.", answered_by="aad-ann", answered_at=WHEN)
    assert "Answered by Ann" in str(cards.question(answered, names))
    resolved = cards.question(question(state=QuestionState.RESOLVED, resolved_at=WHEN), names)
    assert "actions" not in resolved and "Resolved" in str(resolved)


def test_the_answer_card_quotes_the_question_on_one_line() -> None:
    answered = question(answer="Let's talk.", answered_by="aad-ann", answered_at=WHEN)
    [said, by] = cards.answer(answered, {"aad-ann": "Ann"})["body"]
    assert (
        said["text"] == "**Answer to your concern about CHG-7**\n\n_We cannot. Not by then._\n\nLet's talk."
    )
    assert by["text"] == "Announced by Ann"


def test_a_typeahead_query_is_read_defensively() -> None:
    query = translate.search({"queryText": "ann", "queryOptions": {"skip": 5, "top": 500}, "dataset": "d"})
    assert (query.text, query.skip, query.top, query.dataset) == ("ann", 5, translate.SEARCH_LIMIT, "d")
    assert translate.search("junk") == translate.Search(dataset="", text="", skip=0, top=15)
    assert translate.search({"queryOptions": {"skip": True, "top": -1}}).skip == 0


def test_an_owner_is_one_user_id() -> None:
    base = {"title": "t", "what": "w", "effective_date": "2026-12-14", "ack_deadline": "2026-12-10"}
    assert translate.basics(base | {"owner": " aad-1 ", "own_words": "true"}).owner_id == "aad-1"
    assert translate.basics(base).owner_id is None and not translate.basics(base).own_words
    for bad in ("a,b", "x" * 65):
        with pytest.raises(InvalidInput):
            translate.basics(base | {"owner": bad})
