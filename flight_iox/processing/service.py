"""``ProcessingEngine``: the triggers of one server, configured over HTTP and run in workers.

Configuring a trigger needs ``create`` on its database (as configuring a cache
does); uploading a plugin file needs an admin token, since a plugin is code the
server runs. A trigger acts with the principal of the token that created it,
looked up at each call (a revoked token's trigger may do nothing); a trigger created
with auth off acts as anyone when auth is still off, and with read and write on its
own database only when auth is on. Calling a request trigger needs ``write`` on its
database (the plugin may write there), so a read token never changes data.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flight_iox.auth.policy import ANONYMOUS, Authorizer, Principal
from flight_iox.auth.tokens import Action, Permission, TokenRecord
from flight_iox.errors import BadRequestError, NotFoundError, NotSupportedError, PluginError
from flight_iox.processing.host import PluginCache, PluginHost, PluginWriter
from flight_iox.processing.process import PluginFailure
from flight_iox.processing.runner import RunnerParts, TriggerRunner
from flight_iox.processing.store import EngineLog, TriggerStore
from flight_iox.processing.system_tables import plugin_files_table
from flight_iox.processing.triggers import TriggerConfig, trigger_from_request
from flight_iox.query.scoped import SqlService

log = logging.getLogger(__name__)


class ProcessingEngine:
    """Creates, runs and removes triggers; serves request triggers."""

    def __init__(
        self,
        plugin_dir: Path | None,
        store: TriggerStore,
        logs: EngineLog,
        parts: RunnerParts,
        sql: SqlService,
        writer: PluginWriter,
        authorizer: Authorizer | None = None,
    ) -> None:
        self._plugin_dir = plugin_dir
        self._store = store
        self._logs = logs
        self._parts = parts
        self._sql = sql
        self._writer = writer
        self._authorizer = authorizer
        self._cache = PluginCache()
        self._lock = threading.Lock()
        self._runners: dict[tuple[str, str], TriggerRunner] = {}
        self._started = False
        for config in store.all():  # before the persister runs: keep what they have not taken
            position = store.position(config.database, config.name)
            if config.spec.on_writes and position is not None:
                parts.feed.hold(_reader(config), position)

    @property
    def plugin_dir(self) -> Path | None:
        """``--plugin-dir`` (None: the processing engine is off)."""
        return self._plugin_dir

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start every enabled trigger (the server calls this once it serves)."""
        if self.plugin_dir is None:
            return
        self._started = True
        for config in self._store.all():
            if not config.disabled:
                self._start(config)

    def stop(self) -> None:
        """Stop every trigger and its workers (positions stay where they are)."""
        with self._lock:
            runners, self._runners = list(self._runners.values()), {}
            self._started = False
        for runner in runners:
            runner.stop()

    def _start(self, config: TriggerConfig) -> None:
        key = (config.database, config.name)
        runner = TriggerRunner(
            config,
            self._plugin_path(config.plugin_filename),
            self._parts,
            host=lambda: self._host(config),
            log_line=lambda level, text: self._log(config, level, text),
            disable=lambda: self._disable_after_error(config),
        )
        with self._lock:
            old = self._runners.pop(key, None)
            self._runners[key] = runner
        if old is not None:
            old.stop()
        runner.start()

    def _stop(self, config: TriggerConfig, release: bool) -> None:
        with self._lock:
            runner = self._runners.pop((config.database, config.name), None)
        if runner is not None:
            runner.stop(release=release)
        elif release:
            self._parts.feed.release(_reader(config))

    # --- configuration ---------------------------------------------------------------------

    def _require_engine(self) -> Path:
        if self.plugin_dir is None:
            raise NotSupportedError(
                "the processing engine is off: start the server with --plugin-dir"
            )
        return self.plugin_dir

    def _plugin_path(self, filename: str) -> Path:
        """``filename`` inside the plugin folder (``BadRequestError`` if it leaves it)."""
        root = self._require_engine().resolve()
        path = (root / filename).resolve()
        if not filename or Path(filename).is_absolute() or not path.is_relative_to(root):
            raise BadRequestError(f"'plugin_filename': {filename!r} is outside the plugin folder")
        return path

    def create(self, params: dict[str, object], principal: Principal) -> TriggerConfig:
        """Create a trigger from a request body (started unless ``disabled``)."""
        config = trigger_from_request(params, principal.record.id if principal.record else None)
        Authorizer.require(principal, Action.CREATE, config.database)
        path = self._plugin_path(config.plugin_filename)
        if not (path.is_file() or (path / "__init__.py").is_file()):
            raise NotFoundError(f"no plugin file {config.plugin_filename!r} in the plugin folder")
        position = self._parts.feed.acknowledged if config.spec.on_writes else None
        self._store.add(config, position)
        if not config.disabled and self._started:
            self._start(config)
        return config

    def delete(self, database: str, name: str, principal: Principal) -> None:
        """Stop and forget a trigger, its position and its cache."""
        Authorizer.require(principal, Action.CREATE, database)
        config = self._store.remove(database, name)
        self._stop(config, release=True)
        self._cache.drop(f"{database}/{name}")

    def set_disabled(self, database: str, name: str, disabled: bool, principal: Principal) -> None:
        """Enable or disable a trigger (a write trigger resumes from its position)."""
        Authorizer.require(principal, Action.CREATE, database)
        config = self._store.get(database, name).with_disabled(disabled)
        self._store.replace(config)
        if disabled:
            self._stop(config, release=False)
        elif self._started:
            self._start(config)

    def _disable_after_error(self, config: TriggerConfig) -> None:
        self._store.replace(self._store.get(config.database, config.name).with_disabled(True))
        self._stop(config, release=False)

    # --- calls -----------------------------------------------------------------------------

    def _log(self, config: TriggerConfig, level: str, text: str) -> None:
        self._logs.add(config.database, config.name, level, text)
        if level == "ERROR":
            log.warning("trigger %s/%s: %s", config.database, config.name, text)

    def _host(self, config: TriggerConfig) -> PluginHost:
        return PluginHost(
            database=config.database,
            principal=self.trigger_principal(config),
            sql=self._sql,
            writer=self._writer,
            cache=self._cache,
            cache_scope=f"{config.database}/{config.name}",
            on_log=lambda level, text: self._log(config, level, text),
        )

    def trigger_principal(self, config: TriggerConfig) -> Principal:
        """Who the trigger acts as (see the module docstring)."""
        authorizer = self._authorizer
        if authorizer is None or not authorizer.required:
            return ANONYMOUS
        name = f"trigger {config.database}/{config.name}"
        if config.owner is None:
            actions = frozenset({Action.READ, Action.WRITE})
            permissions: tuple[Permission, ...] = (Permission(config.database, actions),)
            return Principal(name, False, TokenRecord(name, name, "", False, permissions))
        owner = authorizer.principal_of_token(config.owner)
        return owner or Principal(name, False, TokenRecord(name, name, "", False, ()))

    def request(
        self,
        path: str,
        query_parameters: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        principal: Principal,
    ) -> tuple[str, int, dict[str, str]]:
        """Serve ``/api/v3/engine/<path>`` with its request trigger."""
        specification = f"request:{path}"
        with self._lock:
            runner = next(
                (r for r in self._runners.values() if r.config.specification == specification),
                None,
            )
        if runner is None:
            raise NotFoundError(f"no enabled request trigger serves {path!r}")
        Authorizer.require(principal, Action.WRITE, runner.config.database)
        try:
            return runner.request(query_parameters, headers, body)
        except PluginFailure as failure:
            raise PluginError(f"plugin failed ({failure.reason}): {failure.message}") from None

    # --- plugin files ----------------------------------------------------------------------

    def plugin_files(self) -> list[dict[str, object]]:
        """The plugin files and the triggers using them (``system.plugin_files``' rows)."""
        rows: list[dict[str, object]] = plugin_files_table(self._store, self.plugin_dir).to_pylist()
        return rows

    def upload(self, plugin_name: str, content: str, principal: Principal) -> Path:
        """Write a plugin file into the plugin folder (admin only; never outside it)."""
        Authorizer.require_admin(principal)
        if not plugin_name.endswith(".py"):
            raise BadRequestError(f"'plugin_name': {plugin_name!r} must end in .py")
        path = self._plugin_path(plugin_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.upload")
        temporary.write_text(content)
        temporary.replace(path)
        return path


def _reader(config: TriggerConfig) -> str:
    """The trigger's name as a reader of the write stream (``TriggerRunner`` uses the same)."""
    return f"trigger:{config.database}/{config.name}"
