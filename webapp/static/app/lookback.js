// Look-back page: the before/after slider. The range input clips the overlaid "after" image
// from the left, so the "before" image shows on the left of the split and "after" on the right.
(function () {
  "use strict";
  function bind(slider) {
    var range = slider.querySelector(".fk-slider-range");
    var after = slider.querySelector(".fk-slider-after");
    if (!range || !after) { return; }
    function update() {
      var v = Math.max(0, Math.min(100, Number(range.value) || 0));
      after.style.clipPath = "inset(0 0 0 " + v + "%)";
      slider.setAttribute("data-split", String(v));
    }
    range.addEventListener("input", update);
    update();
  }
  document.querySelectorAll("[data-slider]").forEach(bind);
})();
