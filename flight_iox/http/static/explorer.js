// The query explorer: calls the server's own HTTP APIs with the token typed in.
// Every value from the server reaches the page through textContent or a form value,
// never as HTML: table names, tags and fields are user data.

import { clearChart, drawChart } from "/explorer/chart.js";

const TOKEN_KEY = "flight-iox-token"; // sessionStorage only: never in a URL or on disk
const MAX_GRID_ROWS = 1000;
const QUERY_PATHS = { sql: "/api/v3/query_sql", influxql: "/api/v3/query_influxql" };
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function messageOf(text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      const message = body.error ?? body.message;
      if (message !== undefined) {
        const text = typeof message === "string" ? message : JSON.stringify(message);
        return text + lineErrors(body.data);
      }
    }
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 500);
}

function lineErrors(data) {
  // A write's rejected lines: {line_number, error_message} each.
  if (!Array.isArray(data)) return "";
  const shown = data.slice(0, 3).map((e) => `line ${e.line_number}: ${e.error_message}`);
  const more = data.length > 3 ? ` (and ${data.length - 3} more)` : "";
  return shown.length ? `; ${shown.join("; ")}${more}` : "";
}

async function api(method, path, { params = {}, json, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (body !== undefined) {
    headers["Content-Type"] = "text/plain; charset=utf-8";
  }
  const response = await fetch(url, { method, headers, body, cache: "no-store" });
  const text = await response.text();
  if (!response.ok) {
    const hint = response.status === 401 ? " (paste a token above)" : "";
    throw new ApiError(response.status, `${response.status}: ${messageOf(text)}${hint}`);
  }
  return text ? JSON.parse(text, exactIntegers) : null;
}

function exactIntegers(key, value, context) {
  // An int64 beyond 2^53 would be rounded as a Number: keep its digits as a BigInt where the
  // browser gives the source text (JSON.parse source access).
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source
      && /^-?\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

function say(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

function item(text, onClick, selected) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.classList.toggle("selected", selected);
  button.addEventListener("click", onClick);
  const li = document.createElement("li");
  li.append(button);
  return li;
}

// Databases and tables.

async function loadDatabases() {
  const rows = await api("GET", "/api/v3/configure/database");
  const names = rows.map((row) => row["iox::database"]).sort();
  const select = $("database");
  const current = select.value;
  select.replaceChildren(...names.map((name) => new Option(name, name)));
  $("database-names").replaceChildren(...names.map((name) => new Option(name, name)));
  if (names.includes(current)) select.value = current;
  if (!$("write-db").value) $("write-db").value = select.value;
  renderDatabases(names);
  say($("status"), `${names.length} database${names.length === 1 ? "" : "s"}`);
  await loadTables();
}

function renderDatabases(names) {
  const selected = $("database").value;
  $("databases").replaceChildren(
    ...names.map((name) => item(name, () => chooseDatabase(name), name === selected)),
  );
}

async function chooseDatabase(name) {
  $("database").value = name;
  if (!$("write-db").value) $("write-db").value = name;
  const names = [...$("database").options].map((option) => option.value);
  renderDatabases(names);
  await guarded($("status"), loadTables);
}

async function loadTables() {
  const database = $("database").value;
  $("tables-of").textContent = database ? `in ${database}` : "";
  if (!database) {
    $("tables").replaceChildren();
    return;
  }
  const q = "SELECT table_name FROM information_schema.tables "
    + "WHERE table_schema = 'iox' ORDER BY table_name";
  const rows = await api("POST", QUERY_PATHS.sql, { json: { db: database, q, format: "json" } });
  $("tables").replaceChildren(
    ...rows.map((row) => item(row.table_name, () => browseTable(row.table_name), false)),
  );
}

function quoted(name, language) {
  // SQL doubles a quote inside an identifier; InfluxQL escapes it with a backslash.
  return language === "sql"
    ? `"${name.replaceAll('"', '""')}"`
    : `"${name.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

async function browseTable(name) {
  const language = $("language").value;
  $("query").value = `SELECT * FROM ${quoted(name, language)} ORDER BY time DESC LIMIT 100`;
  await runQuery();
}

// Queries, the grid and the chart.

function cellText(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function renderGrid(columns, rows) {
  const head = document.createElement("tr");
  for (const column of columns) {
    const th = document.createElement("th");
    th.textContent = column;
    head.append(th);
  }
  $("grid").tHead.replaceChildren(head);
  const body = rows.slice(0, MAX_GRID_ROWS).map((row) => {
    const tr = document.createElement("tr");
    for (const column of columns) {
      const td = document.createElement("td");
      const value = row[column];
      td.textContent = cellText(value);
      if (typeof value === "number" || typeof value === "bigint") td.className = "number";
      if (value === null || value === undefined) td.className = "null";
      tr.append(td);
    }
    return tr;
  });
  $("grid").tBodies[0].replaceChildren(...body);
}

function columnsOf(rows) {
  const seen = new Set();
  for (const row of rows) for (const name of Object.keys(row)) seen.add(name);
  return [...seen];
}

async function runQuery() {
  const database = $("database").value;
  const language = $("language").value;
  const q = $("query").value;
  const info = $("result-info");
  if (!q.trim()) {
    say(info, "write a query first", true);
    return;
  }
  say(info, "running…");
  info.dataset.state = "running";
  const started = performance.now();
  try {
    const json = { q, format: "json" };
    if (database) json.db = database;
    const rows = await api("POST", QUERY_PATHS[language], { json });
    const list = Array.isArray(rows) ? rows : [];
    const columns = columnsOf(list);
    renderGrid(columns, list);
    const series = drawChart($("chart"), columns, list);
    const ms = Math.round(performance.now() - started);
    const shown = list.length > MAX_GRID_ROWS ? ` (the first ${MAX_GRID_ROWS} shown)` : "";
    const chart = series ? `, ${series} series charted` : "";
    say(info, `${list.length} row${list.length === 1 ? "" : "s"}${shown}${chart} in ${ms} ms`);
    info.dataset.state = "done";
  } catch (error) {
    renderGrid([], []);
    clearChart($("chart"));
    say(info, error.message, true);
    info.dataset.state = "error";
  }
}

// Writes.

async function writeLines() {
  const database = $("write-db").value.trim();
  const lines = $("lines").value;
  const status = $("write-status");
  if (!database || !lines.trim()) {
    say(status, "name a database and write some lines", true);
    return;
  }
  try {
    const params = { db: database, precision: $("precision").value };
    await api("POST", "/api/v3/write_lp", { params, body: lines });
    const count = lines.split("\n").filter((line) => line.trim() && !line.startsWith("#")).length;
    say(status, `wrote ${count} line${count === 1 ? "" : "s"} to ${database}`);
    if (!$("database").value) $("database").value = database;
    await loadDatabases();
  } catch (error) {
    say(status, error.message, true);
  }
}

async function guarded(element, action) {
  try {
    await action();
  } catch (error) {
    say(element, error.message, true);
  }
}

function setUp() {
  $("token").value = sessionStorage.getItem(TOKEN_KEY) ?? "";
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    guarded($("status"), loadDatabases);
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    say($("status"), "token forgotten");
  });
  $("refresh").addEventListener("click", () => guarded($("status"), loadDatabases));
  $("database").addEventListener("change", () => chooseDatabase($("database").value));
  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runQuery();
  });
  $("query").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("query-form").requestSubmit();
    }
  });
  $("write-form").addEventListener("submit", (event) => {
    event.preventDefault();
    writeLines();
  });
  guarded($("status"), loadDatabases);
}

setUp();
