"""botbuilder's authentication and Bot Connector clients, and nothing else of it: a later move to the
Microsoft 365 Agents SDK replaces this module (and app.py's turn handling), not the rest of Realign.

One ConnectorClient per serviceUrl, kept for the life of the process: each new client would ask
Entra ID for a token of its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

import aiohttp
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, MicrosoftAppCredentials

from adapters.teams.graph import Graph

log = logging.getLogger(__name__)
LOOPBACK_NAMES = frozenset({"localhost"})
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEV_WARNING = (
    "REALIGN_TEAMS_DEV is on: Teams activities are accepted WITHOUT AUTHENTICATION, and only from "
    "loopback serviceUrls. Never run this way where anyone else can reach /api/messages."
)

UPLOAD_TIMEOUT = 120.0  # seconds for a file PUT whole (the audit export: some 20 MB for 100,000 rows)


@dataclass(frozen=True)
class Registration:
    """The bot's registration (MICROSOFT_APP_*); no app id means dev mode (REALIGN_TEAMS_DEV)."""

    app_id: str = ""
    password: str = ""
    app_type: str = "MultiTenant"
    tenant_id: str = ""

    @property
    def dev(self) -> bool:
        return not self.app_id


class _Config:
    """The configuration object botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, registration: Registration) -> None:
        self.APP_ID = registration.app_id
        self.APP_PASSWORD = registration.password
        self.APP_TYPE = registration.app_type or "MultiTenant"
        self.APP_TENANTID = registration.tenant_id


def is_loopback(service_url: str | None) -> bool:
    """Whether a serviceUrl points at this machine (127.0.0.0/8, ::1, localhost): dev mode calls no other."""
    try:
        host = urlsplit(service_url or "").hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Connectors:
    """The adapter (inbound turns) and the connector clients (outbound calls) of one registration."""

    def __init__(self, registration: Registration, *, timeout: float, graph_url: str = "") -> None:
        self.registration = registration
        self.auth = ConfigurationBotFrameworkAuthentication(_Config(registration))
        self.adapter = CloudAdapter(self.auth)
        self.timeout = timeout
        self.graph_url = graph_url
        self._clients: dict[str, ConnectorClient] = {}
        self._graph_credentials: dict[str, MicrosoftAppCredentials] = {}
        self._graphs: dict[str, Graph] = {}
        self._http: aiohttp.ClientSession | None = None

    def allowed(self, service_url: str | None) -> bool:
        """Whether Realign may call this serviceUrl (in dev mode, loopback only)."""
        return bool(service_url) and (not self.registration.dev or is_loopback(service_url))

    async def client(self, service_url: str) -> ConnectorClient:
        """The connector client for a serviceUrl, made on first use and then kept."""
        if not self.allowed(service_url):
            raise PermissionError(f"serviceUrl {service_url!r} is not allowed in REALIGN_TEAMS_DEV mode")
        client = self._clients.get(service_url)
        if client is None:
            claims = ClaimsIdentity(
                {
                    AuthenticationConstants.AUDIENCE_CLAIM: self.registration.app_id,
                    AuthenticationConstants.APP_ID_CLAIM: self.registration.app_id,
                },
                True,
            )
            client = await self.auth.create_connector_factory(claims).create(service_url, None)
            client.config.connection.timeout = self.timeout
            # urllib3 (under msrest) would retry a GET or PUT answered 429 by itself, sleeping out any
            # Retry-After in a thread: Realign decides instead, within the tenant's limiter and bounded.
            client.config.retry_policy.policy.respect_retry_after_header = False
            self._clients[service_url] = client
        return client

    def graph(self, tenant_id: str) -> Graph | None:
        """The Graph client for a tenant (None when MICROSOFT_GRAPH_URL is off). In dev mode it sends no
        token, and only a loopback Graph URL is called."""
        if not self.graph_url or (self.registration.dev and not is_loopback(self.graph_url)):
            return None
        graph = self._graphs.get(tenant_id)
        if graph is None:
            graph = Graph(
                base_url=self.graph_url,
                tenant_id=tenant_id,
                token=self._graph_token,
                session=self._session,
                timeout=self.timeout,
            )
            self._graphs[tenant_id] = graph
        return graph

    async def _graph_token(self, tenant_id: str) -> str | None:
        """An app-only Graph token for the tenant the chat lives in (MSAL caches it until it expires)."""
        if self.registration.dev:
            return None
        credentials = self._graph_credentials.get(tenant_id)
        if credentials is None:
            credentials = MicrosoftAppCredentials(
                self.registration.app_id,
                self.registration.password,
                channel_auth_tenant=tenant_id,
                oauth_scope=GRAPH_SCOPE,
            )
            self._graph_credentials[tenant_id] = credentials
        return await asyncio.to_thread(credentials.get_access_token)

    async def upload(self, url: str, file: IO[bytes], *, size: int) -> int:
        """PUT a file whole to the upload URL a file consent gave (a OneDrive upload session: no token,
        the URL is the authorisation); returns the HTTP status. In dev mode only a loopback URL is
        called, else only https (PermissionError)."""
        scheme = urlsplit(url).scheme
        if (self.registration.dev and not is_loopback(url)) or (
            not self.registration.dev and scheme != "https"
        ):
            raise PermissionError(f"upload URL {url!r} is not allowed")
        headers = {"Content-Range": f"bytes 0-{size - 1}/{size}", "Content-Length": str(size)}
        limit = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
        async with self._session().put(url, data=file, headers=headers, timeout=limit) as response:
            return response.status

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        for client in self._clients.values():
            await client.__aexit__(None, None, None)  # msrest's async client closes its session there
        self._clients.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None
