// The label page's Print button. A file rather than an inline handler, so a strict CSP stays possible.
document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
