// genrec's page script: forms marked data-fetch post in the background and swap in the HTML
// fragment the server answers with; elements marked data-poll refresh themselves until done.
// Everything still works without it (the forms post and redirect).
(function () {
  "use strict";

  function toast(text, kind) {
    var box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.setAttribute("role", "status");
      document.body.appendChild(box);
    }
    box.textContent = text;
    box.className = "toast show " + (kind || "");
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.className = "toast"; }, 2500);
  }

  function fragment(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    return tpl.content;
  }

  function rememberSession(root) {
    var el = root.querySelector ? root.querySelector("[data-session-id]") : null;
    var sid = el && el.getAttribute("data-session-id");
    var input = document.querySelector("#ask input[name=session_id]");
    if (sid && input) { input.value = sid; }
  }

  async function submit(form, event) {
    event.preventDefault();
    var target = document.querySelector(form.getAttribute("data-target"));
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      var resp = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
      var html = await resp.text();
      if (!resp.ok) {
        var msg = fragment(html).querySelector("[data-message]");
        toast(msg ? msg.textContent : "Something went wrong (" + resp.status + ")", "error");
        return;
      }
      var content = fragment(html);
      if (target) {
        if (form.getAttribute("data-mode") === "append") {
          var hint = target.querySelector(".hint");
          if (hint) { hint.remove(); }
          target.appendChild(content);
          target.lastElementChild.scrollIntoView({ behavior: "smooth", block: "nearest" });
          form.reset();
          rememberSession(target.lastElementChild);
        } else {
          target.replaceChildren(content);
        }
        wire(target);
      }
      var kind = form.querySelector("input[name=kind]");
      if (kind) { toast({ like: "Liked: your list is updated", dislike: "Got it: you will not see it again", skip: "Skipped" }[kind.value] || "Saved"); }
    } catch (err) {
      toast("Network error: " + err.message, "error");
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  function poll(el) {
    setTimeout(async function () {
      try {
        var resp = await fetch(el.getAttribute("data-poll"), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (resp.status >= 400 && resp.status < 500) {  // gone (a restart) or signed out: stop asking
          el.removeAttribute("data-poll");
          el.querySelector(".bubble.system").textContent = "This answer is no longer available here; reload the page to see your conversation.";
          return;
        }
        if (!resp.ok) { poll(el); return; }
        var content = fragment(await resp.text());
        var next = content.firstElementChild;
        var parent = el.parentNode;
        el.replaceWith(content);
        if (next) { rememberSession(next); wire(parent); }
      } catch (err) {
        poll(el);
      }
    }, 800);
  }

  function wire(root) {
    root.querySelectorAll("form[data-fetch]").forEach(function (form) {
      if (form.dataset.wired) { return; }
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) { submit(form, event); });
    });
    root.querySelectorAll("[data-poll]").forEach(function (el) {
      if (el.dataset.polling) { return; }
      el.dataset.polling = "1";
      poll(el);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
})();
