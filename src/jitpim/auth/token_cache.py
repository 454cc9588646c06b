"""The `TokenCredential` surface shared by jitpim's own grant credentials (the client-assertion grant, the
password grant): one token per scope set and tenant, reused until five minutes before it expires. A subclass
sends its grant in `_request`; nothing here sees a credential or logs a token."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Self

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

__all__ = ["REFRESH_MARGIN", "CachedGrantCredential"]

REFRESH_MARGIN: Final = 300  # seconds before expiry when a cached token is replaced


class CachedGrantCredential(abc.ABC):
    def __init__(self, *, tenant_id: str, clock: Callable[[], float] = time.time) -> None:
        self.tenant_id = tenant_id
        self._clock = clock
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _request(self, scopes: tuple[str, ...], tenant: str) -> AccessTokenInfo:
        """Send the grant for `scopes` in `tenant` (each subclass's own request)."""

    def _token_info(self, token: str, expires_in: object) -> AccessTokenInfo:
        from azure.core.credentials import AccessTokenInfo

        expires_on = int(self._clock()) + (int(expires_in) if isinstance(expires_in, int | float | str) else 3600)
        return AccessTokenInfo(token, expires_on, token_type="Bearer", refresh_on=expires_on - REFRESH_MARGIN)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        if not scopes:
            raise ValueError("get_token_info requires at least one scope")
        tenant = (options or {}).get("tenant_id") or self.tenant_id
        key = (" ".join(sorted(scopes)), tenant)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_on - REFRESH_MARGIN > self._clock():
                return cached  # type: ignore[no-any-return]
        info = self._request(tuple(scopes), tenant)
        with self._lock:
            self._cache[key] = info
        return info

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        from azure.core.credentials import AccessToken

        options: dict[str, Any] = {"tenant_id": tenant_id} if tenant_id else {}
        info = self.get_token_info(*scopes, options=options)  # type: ignore[arg-type]
        return AccessToken(info.token, info.expires_on)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
