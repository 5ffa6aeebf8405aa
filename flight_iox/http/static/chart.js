// The time-series chart: rows with a "time" column and numeric columns become uPlot lines,
// one per numeric column and tag set (the text columns of the row), on a time axis.

const MAX_SERIES = 24;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#7f7f7f", "#bcbd22"];
// ISO-8601 as the server prints times; no zone means UTC (Date.parse would take local time).
const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/;

let plot = null;
let observer = null;

/** Seconds since the epoch of a time text, or null. */
export function seconds(text) {
  const match = typeof text === "string" ? ISO.exec(text) : null;
  if (!match) return null;
  const ms = Date.parse(match[1] + (match[3] || "Z"));
  if (Number.isNaN(ms)) return null;
  return ms / 1000 + (match[2] ? Number(`0.${match[2]}`) : 0);
}

function kindOf(rows, column) {
  let kind = null;
  for (const row of rows) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    const number = typeof value === "number" || typeof value === "bigint";
    const type = number ? "number" : typeof value === "string" ? "text" : "other";
    if (kind !== null && kind !== type) return "other";
    kind = type;
  }
  return kind;
}

/** The chart's series and aligned data, or null when the rows have no time or no numbers. */
export function chartData(columns, rows) {
  const time = columns.find((c) => c === "time" || c === "_time");
  if (time === undefined || rows.length === 0) return null;
  const kinds = new Map(columns.filter((c) => c !== time).map((c) => [c, kindOf(rows, c)]));
  const fields = [...kinds].filter(([, k]) => k === "number").map(([c]) => c);
  const tags = [...kinds].filter(([, k]) => k === "text").map(([c]) => c);
  if (fields.length === 0) return null;
  const xs = new Set();
  const series = new Map(); // label -> Map(x -> y)
  for (const row of rows) {
    const x = seconds(row[time]);
    if (x === null) continue;
    xs.add(x);
    const tagSet = tags.filter((t) => row[t] != null).map((t) => `${t}=${row[t]}`).join(",");
    for (const field of fields) {
      if (row[field] === null || row[field] === undefined) continue;
      const y = Number(row[field]); // a BigInt (an int64 beyond 2^53) is charted rounded
      const label = tagSet ? `${field} ${tagSet}` : field;
      if (!series.has(label)) {
        if (series.size >= MAX_SERIES) continue;
        series.set(label, new Map());
      }
      series.get(label).set(x, y);
    }
  }
  if (series.size === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const labels = [...series.keys()];
  const data = [sorted, ...labels.map((l) => sorted.map((x) => series.get(l).get(x) ?? null))];
  return { labels, data };
}

/** Draw the rows into ``container``; answers the number of series drawn (0: no chart). */
export function drawChart(container, columns, rows) {
  clearChart(container);
  const found = chartData(columns, rows);
  if (found === null || typeof globalThis.uPlot !== "function") return 0;
  const points = found.data[0].length < 200;
  const options = {
    width: container.clientWidth || 800,
    height: 280,
    scales: { x: { time: true } },
    tzDate: (ts) => globalThis.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"), // as the grid

    series: [
      {},
      ...found.labels.map((label, i) => ({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: points },
      })),
    ],
  };
  plot = new globalThis.uPlot(options, found.data, container);
  observer = new ResizeObserver(() => plot && plot.setSize({ width: container.clientWidth, height: 280 }));
  observer.observe(container);
  container.dataset.series = String(found.labels.length);
  return found.labels.length;
}

/** Remove the chart. */
export function clearChart(container) {
  if (observer) observer.disconnect();
  if (plot) plot.destroy();
  plot = null;
  observer = null;
  container.replaceChildren();
  delete container.dataset.series;
}
