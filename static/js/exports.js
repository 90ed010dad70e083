// Moves the progress bars of the user's exports while they run: asks the server for
// each waiting or running export about once a second, and fills in its file when done.
(function () {
  "use strict";
  const table = document.getElementById("exports");
  if (!table) return;
  const interval = Number(table.dataset.pollInterval) || 1000;
  const OPEN = new Set(["pending", "running"]);
  // Every request renews the session: stop asking after a while, so that an export
  // left waiting does not keep an unattended session open past its idle timeout.
  const stopAt = Date.now() + 20 * 60 * 1000;

  function drawBar(row, progress, status) {
    const bar = row.querySelector(".progress-bar");
    if (!bar) return;
    const percent = Math.max(0, Math.min(100, Number(progress) || 0));
    bar.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    bar.textContent = percent + "%";
    bar.classList.toggle("progress-bar-striped", OPEN.has(status));
    bar.classList.toggle("progress-bar-animated", status === "running");
    bar.classList.toggle("bg-success", status === "done");
    bar.classList.toggle("bg-danger", status === "failed");
    bar.classList.toggle("bg-secondary", status === "expired");
  }

  function render(row, data) {
    row.dataset.status = data.status;
    drawBar(row, data.progress, data.status);
    for (const element of row.querySelectorAll("[data-field]")) {
      const value = data[element.dataset.field];
      if (element.tagName === "A") {
        if (value) element.setAttribute("href", value);
      } else {
        element.textContent = value === null || value === undefined ? "" : String(value);
      }
    }
    for (const wrapper of row.querySelectorAll("[data-when]")) {
      wrapper.hidden = !data[wrapper.dataset.when];
    }
  }

  function openRows() {
    return Array.from(table.querySelectorAll("tr[data-status-url]")).filter((row) =>
      OPEN.has(row.dataset.status)
    );
  }

  function refresh(row) {
    return fetch(row.dataset.statusUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => {
        if (data) render(row, data);
      })
      .catch(() => {});
  }

  function poll() {
    const rows = openRows();
    if (!rows.length || Date.now() > stopAt) return;
    Promise.all(rows.map(refresh)).then(() => setTimeout(poll, interval));
  }

  for (const row of table.querySelectorAll("tr[data-status-url]")) {
    const bar = row.querySelector(".progress-bar");
    if (bar) drawBar(row, bar.getAttribute("aria-valuenow"), row.dataset.status);
  }
  setTimeout(poll, interval);
})();
