// Progressive enhancement only: the form and the page work without this file.
"use strict";

// Choosing an API, a condition or the scoped variant shows the answer at once.
for (const control of document.querySelectorAll("[data-autosubmit]")) {
  control.addEventListener("change", () => control.form.requestSubmit());
}

// The policy JSON is there to be copied.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText(target.textContent);
    button.textContent = button.dataset.copied;
  });
}
