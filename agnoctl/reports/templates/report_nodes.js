(function () {
  "use strict";
  // "group by node" of report.html's timeline, on a page of a run whose tasks ran on Ray
  // nodes: ticked, the rows go under a heading of the node they ran on (the driver's last),
  // in the page's order within each; unticked, the page's order again. Moves rows, writes
  // no markup.
  var gantt = document.querySelector(".gantt");
  var rows = Array.prototype.slice.call(gantt.querySelectorAll(".g-row"));
  var heads = Array.prototype.slice.call(gantt.querySelectorAll("[data-node-head]"));
  var after = Array.prototype.slice.call(gantt.querySelectorAll(":scope > p"));
  var box = document.getElementById("by-node");

  function place(grouped) {
    if (grouped) {
      heads.forEach(function (head) {
        var node = head.getAttribute("data-node-head");
        head.hidden = false;
        gantt.appendChild(head);
        rows.forEach(function (row) {
          if (row.getAttribute("data-ran-on") === node) { gantt.appendChild(row); }
        });
      });
    } else {
      rows.forEach(function (row) { gantt.appendChild(row); });
      heads.forEach(function (head) { head.hidden = true; gantt.appendChild(head); });
    }
    after.forEach(function (el) { gantt.appendChild(el); });
    document.documentElement.setAttribute("data-grouped", grouped ? "1" : "0");
  }

  box.addEventListener("change", function () { place(box.checked); });
})();
