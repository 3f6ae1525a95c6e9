// The portal works without scripts. This file adds the print button of the print view, and
// books or cancels a meal in place: the agenda's day is swapped for the server's answer (the
// day, changed, with what happened), so a parent on a phone stays where they were.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form.choices") || form.dataset.plain) return;
  event.preventDefault();
  const day = form.closest("li.day");
  const body = new FormData(form, event.submitter);
  for (const button of form.querySelectorAll("button")) button.disabled = true;
  try {
    const answer = await fetch(form.action, {method: "POST", body, headers: {"X-Requested-With": "fetch"},
                                             credentials: "same-origin"});
    if (answer.redirected || (answer.status !== 200 && answer.status !== 409)) throw new Error("not a day");
    const holder = document.createElement("template");
    holder.innerHTML = (await answer.text()).trim();
    const changed = holder.content.firstElementChild;
    if (!changed?.matches("li.day")) throw new Error("not a day");
    day.replaceWith(changed);
    changed.querySelector("[role=status], [role=alert]")?.focus();
  } catch {
    // An expired session or form, or no network: send the form the plain way, and the full page says why.
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    form.dataset.plain = "1";
    form.requestSubmit(event.submitter);
  }
});
