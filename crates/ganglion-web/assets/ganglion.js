// Ganglion's pages work without this script. It only adds conveniences:
// the organization tree opens a level in place instead of reloading the page,
// "more" links append the next page of a level, and selects marked
// data-autosubmit send their form when changed.
"use strict";

document.documentElement.classList.add("js");

async function fetchFragment(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (!response.ok) {
    throw new Error(`${response.status}`);
  }
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  return template.content;
}

// A tree node opened for the first time fetches its children.
document.addEventListener(
  "toggle",
  async (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    const source = details.dataset.children;
    if (!source || details.dataset.loaded) return;
    const slot = details.querySelector(":scope > .children");
    details.dataset.loaded = "loading";
    details.setAttribute("aria-busy", "true");
    try {
      const fragment = await fetchFragment(source);
      slot.replaceChildren(fragment);
      details.dataset.loaded = "yes";
    } catch (error) {
      // Leave the link that opens the level as a page: it still works.
      delete details.dataset.loaded;
    } finally {
      details.removeAttribute("aria-busy");
    }
  },
  true,
);

// "More" at the end of a level appends the next page of that level.
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a[data-more]");
  if (!link) return;
  event.preventDefault();
  const item = link.closest("li");
  try {
    const fragment = await fetchFragment(link.dataset.more);
    const list = fragment.querySelector("ul");
    item.replaceWith(...(list ? list.children : []));
  } catch (error) {
    window.location.href = link.href;
  }
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

// A roll-up table follows its directive live: the server sends the roll-up again
// whenever it changes (server-sent events), and the changed counts are rewritten.
const liveTable = document.querySelector("table.rollup[data-live]");
if (liveTable && window.EventSource) {
  const format = (value) => Number(value).toLocaleString("en-US");
  const source = new EventSource(liveTable.dataset.live);
  source.addEventListener("rollup", (event) => {
    const rollup = JSON.parse(event.data);
    for (const row of [rollup, ...rollup.children]) {
      const line = liveTable.querySelector(`tr[data-unit="${row.unit}"]`);
      if (!line) continue;
      const values = { total: row.total, overdue: row.overdue, ...row.states };
      for (const [key, value] of Object.entries(values)) {
        const cell = line.querySelector(`[data-count="${key}"]`);
        if (cell && cell.textContent !== format(value)) {
          cell.textContent = format(value);
          cell.classList.add("changed");
        }
      }
    }
  });
}

// The library searches as one types: a moment after the last key, the form's own
// address is fetched as a page and its results put in place of these; the address bar
// follows, so that the search can be shared and reloaded. Without this script the
// form is sent as usual.
const liveSearch = document.querySelector("form[data-live-search]");
if (liveSearch) {
  const results = document.getElementById(liveSearch.dataset.liveSearch);
  let timer = null;
  let latest = 0;
  const search = async () => {
    const params = new URLSearchParams(new FormData(liveSearch));
    for (const [key, value] of [...params]) {
      if (!value.trim()) params.delete(key);
    }
    const query = params.toString();
    const url = liveSearch.getAttribute("action") + (query ? `?${query}` : "");
    const ticket = ++latest;
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById(results.id);
      // Only the answer to the last thing typed is shown.
      if (ticket !== latest || !fresh) return;
      results.replaceChildren(...fresh.childNodes);
      window.history.replaceState(null, "", url);
    } catch (error) {
      // The form still works: pressing Enter sends it.
    } finally {
      if (ticket === latest) results.removeAttribute("aria-busy");
    }
  };
  const soon = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 200);
  };
  liveSearch.addEventListener("input", soon);
  liveSearch.addEventListener("change", soon);
}

// Tables marked sortable sort by a column when its heading is pressed (again: the other
// way). Without the script they read in the server's order.
for (const table of document.querySelectorAll("table.sortable")) {
  const headings = table.querySelectorAll("thead th");
  headings.forEach((heading, column) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = heading.textContent;
    heading.replaceChildren(button);
    button.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = [...body.rows].filter((row) => !row.classList.contains("total"));
      const ascending = heading.getAttribute("aria-sort") !== "ascending";
      headings.forEach((other) => other.removeAttribute("aria-sort"));
      heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const value = (row) => {
        const cell = row.cells[column];
        if (!cell) return "";
        const raw = cell.dataset.sort ?? cell.textContent.trim();
        const number = Number(raw.replace(/[,%\s]|\u00a0.*$/g, ""));
        return Number.isFinite(number) && raw !== "" ? number : raw.toLowerCase();
      };
      rows.sort((a, b) => {
        const [x, y] = [value(a), value(b)];
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      body.append(...rows);
    });
  });
}
