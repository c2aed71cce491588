// Look-back trip page: the print button (no inline scripts under the CSP).
"use strict";
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
