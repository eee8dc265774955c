"""`POST /api/messages`: botbuilder authenticates the activity and runs the turn; the handler routes by
activity type and card action verb, calls the use case, and answers with a card.

Known trap (botbuilder 4.17.1): `CloudAdapter.process` serialises an invoke's answer with
`serializer_helper`, which fails (HTTP 500) on the plain dict the handler's own `_create_invoke_response`
has already made of it. So the endpoint calls `adapter.process_activity` itself and writes the
InvokeResponse's body as it is (a model is serialised first).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.serializer_helper import serializer_helper
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, ChannelAccount
from botbuilder.schema.teams import FileConsentCardResponse
from msrest.exceptions import DeserializationError
from msrest.serialization import Model

from adapters.teams import amend, cards, checks, forms, translate
from adapters.teams.cards import Card
from adapters.teams.connector import Connectors
from adapters.teams.directory import TeamsDirectory
from adapters.teams.exports import TeamsExports
from adapters.teams.replies import Replies, Throttled
from adapters.teams.roster import Installer, user_id_of
from adapters.teams.tenants import workspace_key
from bot import copy
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.announce import Announcing
from bot.capacity import CapacityChecking
from bot.errors import InvalidInput, RealignError
from bot.model import MessageRef
from bot.questions import QUESTION_LIMIT, NotDelivered, Question, Questioning, QuestionKind
from bot.status import Closing, Reporting, Requeueing
from bot.words import WORDS_LIMIT, Restating

log = logging.getLogger(__name__)
HELP = "Type `announce-change` to announce a change, or `change-status` (or `change-status CHG-12`)."
SEARCH_RESPONSE = "application/vnd.microsoft.search.searchResponse"
ASKING = {cards.ASK_VERB: QuestionKind.QUESTION, cards.CONCERN_VERB: QuestionKind.CONCERN}


@dataclass(frozen=True)
class TeamsServices:
    """The use cases one Teams tenant's activities call."""

    announcing: Announcing
    reporting: Reporting
    acknowledging: Acknowledging
    requeueing: Requeueing
    closing: Closing
    directory: TeamsDirectory
    in_background: Callable[[Coroutine[Any, Any, Any]], None]
    questioning: Questioning
    restating: Restating
    amending: Amending
    replies: Replies | None  # the tenant's interactive sends, within their share of TEAMS_POST_RATE
    capacity: CapacityChecking | None = None  # a manager's answer to a capacity check (adapters.teams.checks)
    exports: TeamsExports | None = None  # Export CSV in change-status CHG-n, and its file consent


Services = Callable[[str], Awaitable[TeamsServices]]  # workspace key -> its use cases


def _said(error: RealignError) -> str:
    return " ".join(error.errors.values()) if isinstance(error, InvalidInput) else str(error)


def card_answer(card: Card) -> AdaptiveCardInvokeResponse:
    """An Action.Execute answer: the card that replaces the one clicked."""
    return AdaptiveCardInvokeResponse(status_code=200, type=cards.CONTENT_TYPE, value=card)


class TeamsBot(TeamsActivityHandler):
    """Routes one tenant's activities; `services` finds the tenant's use cases."""

    def __init__(self, *, services: Services, installer: Installer) -> None:
        self.services = services
        self.installer = installer

    async def on_turn(self, turn_context: TurnContext) -> None:
        await super().on_turn(turn_context)
        # After the turn, so that an install has stored the person whose time zone this is.
        tz = translate.time_zone(turn_context.activity.entities)
        workspace, sender = _workspace(turn_context), turn_context.activity.from_property
        if tz and workspace and sender is not None and sender.id:
            await self.installer.time_zone_seen(workspace, user_id_of(sender), tz)

    # --- installation ----------------------------------------------------------------------------

    async def on_conversation_update_activity(self, turn: TurnContext) -> None:
        activity, workspace = turn.activity, _workspace(turn)
        bot_id = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        removed = [m.id for m in activity.members_removed or []]
        if workspace is None:
            return
        if bot_id in removed:
            await self.installer.removed(turn, workspace=workspace)
            return
        if removed:  # people left a team or chat Realign is in
            await self.installer.left(turn, workspace=workspace)
        if added:  # Realign added (an install), or people joining where it is: read the roster again
            await self.installer.installed(turn, workspace=workspace)

    async def on_installation_update_add(self, turn: TurnContext) -> None:
        workspace = _workspace(turn)
        if workspace is not None:
            await self.installer.installed(turn, workspace=workspace)

    async def on_installation_update_remove(self, turn: TurnContext) -> None:
        workspace = _workspace(turn)
        if workspace is not None and turn.activity.action == "remove":  # not `remove-upgrade`
            await self.installer.removed(turn, workspace=workspace)

    async def _reply(self, turn: TurnContext, services: TeamsServices, activity: Activity) -> None:
        """An answer in the turn's conversation, paid for by the tenant's delivery budget (Replies); a
        429 is waited out once (Replies), a second one is a line in the log, not a failed turn."""
        if services.replies is None:
            await turn.send_activity(activity)
            return
        try:
            await services.replies.send("an answer", lambda: turn.send_activity(activity))
        except Throttled:
            return

    # --- typed commands and the Action.Submit fallback -------------------------------------------

    async def on_message_activity(self, turn: TurnContext) -> None:
        services = await self._services(turn)
        if services is None:
            return
        data = translate.action_data(turn.activity.value)
        if translate.verb(data):  # the Action.Submit fallback: the answer is a new message
            shown = await self._act(turn, services, data, compact=True)
            await self._reply(turn, services, MessageFactory.attachment(cards.attachment(shown)))
            return
        typed = translate.command(turn.activity.text)
        if typed is None and _personal(turn) and (turn.activity.text or "").strip():
            await self._typed(turn, services)  # a reply typed into the 1:1 chat: a question
            return
        if typed is None or typed[0] == "help":
            await self._reply(turn, services, MessageFactory.text(HELP))
            return
        name, rest = typed
        if name == "change-status":
            shown = await self._status(
                services, user_id=user_id_of(turn.activity.from_property), words=rest.split()
            )
        else:
            shown = await self._announce_form(
                services, user_id=user_id_of(turn.activity.from_property), title=rest
            )
        await self._reply(turn, services, MessageFactory.attachment(cards.attachment(shown)))

    # --- Action.Execute ----------------------------------------------------------------------------

    async def on_invoke_activity(self, turn: TurnContext) -> InvokeResponse | None:
        # botbuilder's own adaptiveCard/action path answers a click without `type: Action.Execute` with
        # an error holding an Exception, which cannot be serialised (HTTP 500): read the data ourselves.
        if turn.activity.name == "application/search":
            return await self._search(turn)
        if turn.activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn)
        services = await self._services(turn)
        if services is None:
            shown = cards.note(copy.NOT_INSTALLED)
        else:
            shown = await self._act(turn, services, translate.action_data(turn.activity.value))
        return InvokeResponse(status=200, body=card_answer(shown))

    async def on_teams_file_consent(
        self, turn_context: TurnContext, file_consent_card_response: FileConsentCardResponse
    ) -> InvokeResponse:
        """The audit export's file consent card accepted or declined (adapters.teams.exports), answered
        200 at once. A refusal (no longer allowed to read the rows) is said in the chat."""
        services = await self._services(turn_context)
        if services is not None and services.exports is not None:
            user_id = user_id_of(turn_context.activity.from_property)
            try:
                await services.exports.answered(user_id=user_id, response=file_consent_card_response)
            except (RealignError, ValueError) as error:
                text = _said(error) if isinstance(error, RealignError) else copy.BUTTON_UNREADABLE
                note = MessageFactory.attachment(cards.attachment(cards.note(text)))
                await self._reply(turn_context, services, note)
        return InvokeResponse(status=200)

    # --- the actions -------------------------------------------------------------------------------

    async def _act(
        self, turn: TurnContext, services: TeamsServices, data: dict[str, Any], *, compact: bool = False
    ) -> Card:
        """A card action, by verb; a refusal is answered on the card. `compact`: the answer is posted as
        a message of its own (the Action.Submit fallback), so asking is answered with a note, not with
        a second copy of the announcement."""
        user_id, verb = user_id_of(turn.activity.from_property), translate.verb(data)
        try:
            if verb == cards.ACK_VERB:
                clicked = turn.activity.reply_to_id
                shown = await services.acknowledging.acknowledge(
                    delivery_id=translate.delivery_id(data),
                    user_id=user_id,
                    clicked_in=MessageRef(user_id, clicked) if clicked else None,
                )
                return cards.announcement(shown)
            if verb == cards.ACK_WORDS_VERB:
                return await self._acknowledge_in_own_words(turn, services, data)
            if verb in ASKING:
                return await self._ask(services, data, user_id=user_id, kind=ASKING[verb], compact=compact)
            if verb in (cards.ANSWER_VERB, cards.RESOLVE_VERB):
                return await self._answer(services, data, user_id=user_id, verb=verb)
            if verb == cards.RETRY_VERB:
                key = translate.identifier(data, "key")
                count = await services.requeueing.retry_failed(key=key, user_id=user_id)
                text = (
                    copy.REQUEUED.format(count=count, key=key)
                    if count
                    else copy.NOTHING_TO_RETRY.format(key=key)
                )
                return cards.note(text)
            if verb == cards.CLOSE_VERB:
                key = translate.identifier(data, "key")
                closed = await services.closing.close(key=key, user_id=user_id)
                return cards.note((copy.CLOSED if closed else copy.NOT_OPEN).format(key=key))
            if verb == amend.AMEND_VERB:
                change = await services.amending.start(key=translate.identifier(data, "key"), user_id=user_id)
                return amend.form(change)
            if verb == amend.AMEND_SUBMIT_VERB:
                return await self._amend(services, data, user_id=user_id)
            if verb == cards.EXPORT_VERB and services.exports is not None:
                key = translate.identifier(data, "key")
                return cards.note(await services.exports.clicked(key=key, user_id=user_id))
            if verb in (forms.BASICS_VERB, forms.GROUP_VERB):
                return await self._form_step(services, user_id=user_id, data=data)
            if verb == forms.PUBLISH_VERB:
                key = translate.identifier(data, "key")
                published = await services.announcing.publish(key=key, user_id=user_id)
                if not published.first:
                    return forms.published(key, 0, note=copy.ALREADY_PUBLISHED.format(key=key))
                return forms.published(key, published.recipients, scheduled=published.scheduled)
            if verb in checks.VERBS:  # Publish now / Cancel publishing, a capacity check's answer
                return await checks.act(services, data, verb=verb, user_id=user_id)
        except RealignError as error:
            return cards.note(_said(error))
        return cards.note(copy.BUTTON_UNREADABLE)

    async def _amend(self, services: TeamsServices, data: dict[str, Any], *, user_id: str) -> Card:
        """The amend form submitted; a refusal shows the form again with what was typed."""
        key = translate.identifier(data, "key")
        try:
            key, revision, form = amend.submitted(data)
            return amend.done(
                await services.amending.amend(key=key, user_id=user_id, form=form, revision=revision)
            )
        except InvalidInput as error:
            change = await services.amending.start(key=key, user_id=user_id)
            typed = {k: v for k, v in data.items() if isinstance(v, str)}
            return amend.form(change, values=typed, errors=error.errors)

    # --- questions, concerns and own words -------------------------------------------------------

    async def _acknowledge_in_own_words(
        self, turn: TurnContext, services: TeamsServices, data: dict[str, Any]
    ) -> Card:
        """Acknowledge with the line the card's one-line form asked for; a refusal (no line) is said on
        the card, with the form open to try again."""
        user_id, clicked = user_id_of(turn.activity.from_property), turn.activity.reply_to_id
        delivery_id = translate.delivery_id(data)
        line = translate.text(data, cards.OWN_WORDS_INPUT, limit=WORDS_LIMIT)
        try:
            shown = await services.restating.acknowledge(
                delivery_id=delivery_id,
                user_id=user_id,
                text=line,
                clicked_in=MessageRef(user_id, clicked) if clicked else None,
            )
        except InvalidInput as error:
            before = await services.restating.announcement(delivery_id=delivery_id, user_id=user_id)
            return cards.announcement(before, note=_said(error), attention=True, typed={"own_words": line})
        return cards.announcement(shown)

    async def _ask(
        self,
        services: TeamsServices,
        data: dict[str, Any],
        *,
        user_id: str,
        kind: QuestionKind,
        compact: bool = False,
    ) -> Card:
        """Ask a question / I have a concern, sent from the announcement's inline form. The card is shown
        again with what became of it; a refusal keeps the text and the form's id, so sending again asks
        once."""
        name = cards.QUESTION_INPUTS[kind]
        text = translate.text(data, name, limit=QUESTION_LIMIT)
        request = translate.identifier(data, "request")
        shown = await services.restating.announcement(
            delivery_id=translate.delivery_id(data), user_id=user_id
        )
        try:
            question = await services.questioning.ask(
                change_key=shown.change_key,
                user_id=user_id,
                kind=kind,
                text=text,
                request_ref=translate.request(data, kind.value),
            )
        except RealignError as error:
            if compact:
                return cards.note(f"⚠ {_said(error)}")
            return cards.announcement(
                shown, note=_said(error), attention=True, request=request, typed={name: text}
            )
        sent = await self._sent(services, question)
        return cards.note(sent) if compact else cards.announcement(shown, note=sent)

    async def _sent(self, services: TeamsServices, question: Question) -> str:
        people = await _names(services, question.owner_id)
        owner = cards.name_of(people, question.owner_id)
        return copy.QUESTION_SENT.format(kind=question.kind.value, key=question.change_key, owner=owner)

    async def _answer(
        self, services: TeamsServices, data: dict[str, Any], *, user_id: str, verb: str
    ) -> Card:
        """Answer (from the owner's inline form) or Mark resolved; the owner's card is shown again with
        the answer on it (and is updated in place for every other view of it)."""
        question_id = translate.number(data, "question_id")
        questioning = services.questioning
        try:
            if verb == cards.RESOLVE_VERB:
                done = await questioning.resolve(question_id=question_id, user_id=user_id)
                note = copy.RESOLVED
            else:
                text = translate.text(data, cards.ANSWER_INPUT, limit=QUESTION_LIMIT)
                done = await questioning.answer(question_id=question_id, user_id=user_id, text=text)
                asker = cards.name_of(await _names(services, done.asker_id), done.asker_id)
                note = copy.ANSWER_SENT.format(asker=asker)
        except (InvalidInput, NotDelivered) as error:  # the question is theirs: show it with the refusal
            question = await questioning.question(question_id, user_id=user_id)
            people = await _names(services, question.asker_id, question.answered_by)
            return cards.question(question, people, note=_said(error), attention=True)
        people = await _names(services, done.asker_id, done.answered_by)
        return cards.question(done, people, note=note)

    async def _typed(self, turn: TurnContext, services: TeamsServices) -> None:
        """A message typed into the 1:1 chat that is no command: a question about the announcement it
        replies to, else the latest one the person was sent (as a reply typed into a Slack DM is)."""
        activity = turn.activity
        user_id = user_id_of(activity.from_property)
        conversation = activity.conversation.id if activity.conversation else ""
        try:
            question = await services.questioning.ask_typed(
                user_id=user_id,
                text=translate.text({"text": activity.text}, "text", limit=QUESTION_LIMIT),
                thread=MessageRef(user_id, activity.reply_to_id) if activity.reply_to_id else None,
                request_ref=translate.typed_ref(conversation, activity.id or uuid.uuid4().hex),
            )
            said = (
                f"{copy.NOTHING_TO_ASK_ABOUT} {HELP}"
                if question is None
                else await self._sent(services, question)
            )
        except RealignError as error:
            said = _said(error)
        await self._reply(turn, services, MessageFactory.text(cards.md(said)))

    async def _search(self, turn: TurnContext) -> InvokeResponse:
        """The people pickers' typeahead, answered from the person table (for those who may announce)."""
        query = translate.search(turn.activity.value)
        services = await self._services(turn)
        found: list[tuple[str, str]] = []
        if services is not None and query.dataset == forms.PEOPLE_DATASET:
            try:
                await services.announcing.check_may_announce(user_id=user_id_of(turn.activity.from_property))
                found = await services.directory.search(query.text, limit=query.top, skip=query.skip)
            except RealignError:
                found = []
        results = [{"title": title, "value": value} for title, value in found]
        return InvokeResponse(status=200, body={"type": SEARCH_RESPONSE, "value": {"results": results}})

    async def _status(self, services: TeamsServices, *, user_id: str, words: list[str]) -> Card:
        try:
            if not words:
                return cards.overview(await services.reporting.overview(user_id=user_id))
            if len(words) == 1:
                status = await services.reporting.status(key=words[0].upper(), user_id=user_id)
                return await checks.detail(services, status)
            raise RealignError(copy.UNKNOWN_STATUS_ARGUMENT)
        except RealignError as error:
            return cards.note(_said(error))

    async def _announce_form(self, services: TeamsServices, *, user_id: str, title: str) -> Card:
        try:
            await services.announcing.check_may_announce(user_id=user_id)
        except RealignError as error:
            return cards.note(_said(error))
        people, channels = await services.directory.pickers((), shown=forms.SHOWN_PEOPLE)
        draft = f"teams:{uuid.uuid4().hex}"
        return forms.basics_form(draft=draft, values={"title": title}, people=people, channels=channels)

    async def _form_step(self, services: TeamsServices, *, user_id: str, data: dict[str, Any]) -> Card:
        """Basics (with the first group) or a further group; then the next group or the review."""
        announcing, verb = services.announcing, translate.verb(data)
        people, channels = await services.directory.pickers(_chosen(data), shown=forms.SHOWN_PEOPLE)
        draft = translate.identifier(data, "draft")
        position = 0
        key = ""
        try:
            if verb == forms.BASICS_VERB:
                form = translate.basics(data)
                if form.owner_id and not await services.directory.people([form.owner_id]):
                    raise InvalidInput({"owner": copy.UNREADABLE})
                change = await announcing.submit_basics(user_id=user_id, draft_ref=draft, form=form)
                key = change.key
            else:
                key = translate.identifier(data, "key")
                position = translate.number(data, "position")
            change = await announcing.submit_group(
                key=key, user_id=user_id, draft_ref=draft, position=position, group=translate.group(data)
            )
            if str(data.get("more")).lower() == "true":
                return forms.group_form(
                    draft=draft,
                    key=key,
                    position=position + 1,
                    values={},
                    people=people,
                    channels=channels,
                    asks_customers=change.briefs_customers,  # whether it faces customers: asked if it matters
                )
            return forms.review(await announcing.review(key=key, user_id=user_id))
        except InvalidInput as error:
            values = {k: v for k, v in data.items() if isinstance(v, str)}
            if verb == forms.BASICS_VERB and not key:
                return forms.basics_form(
                    draft=draft, values=values, people=people, channels=channels, errors=error.errors
                )
            if verb == forms.BASICS_VERB:  # the basics were saved; the group was refused
                return forms.group_form(
                    draft=draft,
                    key=key,
                    position=0,
                    values=values,
                    people=people,
                    channels=channels,
                    errors=error.errors,
                )
            return forms.group_form(
                draft=draft,
                key=key,
                position=position,
                values=values,
                people=people,
                channels=channels,
                errors=error.errors,
            )
        except ValueError:
            return cards.note(copy.FORM_UNREADABLE)

    async def _services(self, turn: TurnContext) -> TeamsServices | None:
        workspace = _workspace(turn)
        return None if workspace is None else await self.services(workspace)


def _chosen(data: dict[str, Any]) -> list[str]:
    """The people already picked in a submitted form (shown by name when the form comes back)."""
    picked = [data.get("people"), data.get("owner")]
    return [part.strip() for value in picked if isinstance(value, str) for part in value.split(",")][:200]


def _personal(turn: TurnContext) -> bool:
    conversation = turn.activity.conversation
    return conversation is not None and (conversation.conversation_type or "personal") == "personal"


async def _names(services: TeamsServices, *user_ids: str | None) -> dict[str, str]:
    wanted = [user_id for user_id in user_ids if user_id]
    if not wanted:
        return {}
    people = await services.directory.people(wanted)
    return {user_id: person.name or person.email or user_id for user_id, person in people.items()}


def _workspace(turn: TurnContext) -> str | None:
    activity = turn.activity
    tenant = activity.conversation.tenant_id if activity.conversation else None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = tenant or (data.get("tenant") or {}).get("id")
    return workspace_key(tenant) if tenant else None


def _body(response: InvokeResponse) -> Any:
    body = response.body
    return serializer_helper(body) if isinstance(body, Model) else body


class TeamsEndpoint:
    """The aiohttp handler of `POST /api/messages`."""

    def __init__(self, *, connectors: Connectors, bot: TeamsBot) -> None:
        self.connectors = connectors
        self.bot = bot

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.Response(status=415)
        try:
            body = await request.json()
            activity = Activity().deserialize(body)
        except (ValueError, DeserializationError, AttributeError, TypeError):
            return web.Response(status=400)
        if not isinstance(body, dict) or not activity.type:
            return web.Response(status=400)
        if not self.connectors.allowed(activity.service_url):
            log.warning(
                "refused a Teams activity with serviceUrl %r (REALIGN_TEAMS_DEV: loopback only)",
                activity.service_url,
            )
            return web.Response(status=403)
        if activity.recipient is None:
            activity.recipient = ChannelAccount(id="")
        auth = request.headers.get("Authorization", "")
        try:
            response = await self.connectors.adapter.process_activity(auth, activity, self.bot.on_turn)
        except PermissionError:
            return web.Response(status=401)
        except Exception:
            log.exception("a Teams %s activity failed", activity.type)
            if activity.type == "invoke":
                answer = serializer_helper(card_answer(cards.note(copy.FORM_UNREADABLE)))
                return web.json_response(answer, status=200)
            return web.Response(status=200)
        if response is None:
            return web.Response(status=200)
        try:
            return web.json_response(_body(response), status=int(response.status or 200))
        except Exception:
            log.exception("the answer to a Teams %s could not be written", activity.type)
            return web.json_response(serializer_helper(card_answer(cards.note(copy.FORM_UNREADABLE))))
