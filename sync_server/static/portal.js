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

// The help's search box filters the topics as the parent types, as the server does for `?q=`
// (every word, capitals and accents aside). Without scripts the form's GET does the same.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("help-query");
  if (!box) return;
  const folded = (text) => text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  const sections = [...document.querySelectorAll(".help-section")];
  const count = document.getElementById("help-count");
  const texts = new Map(sections.map((section) => [section, folded(
    `${section.querySelector("h2").textContent} ${section.querySelector(".help-body").textContent}`)]));
  box.addEventListener("input", () => {
    const words = folded(box.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const section of sections) {
      const match = words.every((word) => texts.get(section).includes(word));
      section.hidden = !match;
      const entry = document.querySelector(`.help-toc li[data-topic="${section.id}"]`);
      if (entry) entry.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = !words.length ? count.dataset.all
      : shown ? count.dataset.some.replace("{count}", shown).replace("{total}", count.dataset.total) : count.dataset.none;
  });
});
