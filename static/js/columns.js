/* The experiment list's column picker: the columns come in the order they
   were ticked (the ones already shown first, in their order). Without
   JavaScript the form still works: the columns then come in the order the
   picker lists them. */
(function () {
  "use strict";
  function prepare(form) {
    var order = form.querySelector("input[name=order]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=metrics]"));
    var ticked = boxes.filter(function (box) { return box.checked; })
      .map(function (box) { return box.value; });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        ticked = ticked.filter(function (name) { return name !== box.value; });
        if (box.checked) ticked.push(box.value);
      });
    });
    form.addEventListener("submit", function () { order.value = ticked.join(","); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("#column-picker form");
    if (form) prepare(form);
  });
})();
