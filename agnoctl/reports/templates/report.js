(function () {
  "use strict";
  // Filters of report.html: failed only, retried only, and a path search. The page's data is
  // in the markup (data-* attributes); this script reads it and never writes markup.
  var root = document.documentElement;
  var state = { failed: false, retried: false, text: "" };
  var filterable = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var steps = filterable.filter(function (el) { return el.tagName === "DETAILS"; });
  var count = document.getElementById("filter-count");

  function matches(el) {
    if (state.failed && el.getAttribute("data-failed") !== "1") { return false; }
    if (state.retried && el.getAttribute("data-retried") !== "1") { return false; }
    var path = (el.getAttribute("data-filter") || "").toLowerCase();
    return state.text === "" || path.indexOf(state.text) !== -1;
  }

  function apply() {
    var shown = 0;
    filterable.forEach(function (el) {
      var visible = matches(el);
      el.hidden = !visible;
      if (visible && el.tagName === "DETAILS") { shown += 1; }
    });
    count.textContent = shown + " of " + steps.length + " steps shown";
  }

  function bind(id, key) {
    var box = document.getElementById(id);
    box.addEventListener("change", function () { state[key] = box.checked; apply(); });
  }

  bind("only-failed", "failed");
  bind("only-retried", "retried");
  var search = document.getElementById("search");
  search.addEventListener("input", function () {
    state.text = search.value.trim().toLowerCase();
    apply();
  });

  function setAll(open) {
    steps.forEach(function (el) { if (!el.hidden) { el.open = open; } });
  }
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });

  // A click on a DAG node or a timeline row jumps to the step: open it on arrival.
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.tagName === "DETAILS") {
      target.hidden = false;
      target.open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
  root.setAttribute("data-ready", "1");
})();
