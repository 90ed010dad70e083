// Tells the coordinator, as she types, which eligibility criterion fails and why.
// The rules live on the server; this only asks it about the answers typed so far.
(function () {
  "use strict";
  const form = document.getElementById("eligibility-form");
  const panel = document.getElementById("eligibility-feedback");
  if (!form || !panel) return;
  const url = panel.dataset.checkUrl;
  let pending = null;

  function render(result) {
    panel.replaceChildren();
    const heading = document.createElement("div");
    heading.className = "fw-bold mb-1";
    if (result.failures.length) {
      panel.className = "alert alert-danger";
      heading.textContent = panel.dataset.failText;
    } else if (result.complete) {
      panel.className = "alert alert-success";
      heading.textContent = panel.dataset.okText;
    } else {
      panel.className = "alert alert-secondary";
      heading.textContent = panel.dataset.pendingText;
    }
    panel.appendChild(heading);
    const list = document.createElement("ul");
    list.className = "mb-0";
    for (const failure of result.failures) {
      const item = document.createElement("li");
      item.dataset.criterion = failure.code;
      item.textContent = failure.message;
      list.appendChild(item);
    }
    panel.appendChild(list);
  }

  function check() {
    const data = new FormData(form);
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((result) => { if (result) render(result); })
      .catch(() => {});
  }

  function schedule() {
    clearTimeout(pending);
    pending = setTimeout(check, 250);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  check();
})();
