// The web chat page: draws the conversation the server pushes over the websocket and sends
// what the person types, presses and uploads. Texts come from the server (the locale
// catalog), already in the page's language; bot bubbles arrive as sanitised HTML.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const texts = config.texts;
  const $ = (id) => document.getElementById(id);
  const log = $("log");
  let socket = null;
  let retry = 0;
  let everOpened = false; // until then a refused connection means "still starting"
  let demo = null; // the demo's state, when the server runs `cchc-bot demo`
  const seen = {}; // demo person -> messages already seen (for the "new" marks)

  function fill(template, params) {
    return template.replace(/\{(\w+)\}/g, (all, name) => (name in params ? params[name] : all));
  }

  function setStatus(key) {
    $("status").textContent = texts[key];
    $("status").dataset.state = key;
  }

  let toastTimer = null;
  function toast(text) {
    const box = $("toast");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 3000);
  }

  // -- drawing bubbles ---------------------------------------------------------------------

  function bubble(message) {
    const row = document.createElement("div");
    row.className = "msg " + (message.from === "me" ? "me" : "bot");
    row.id = message.id;
    const body = document.createElement("div");
    body.className = "bubble";
    if (message.file) {
      body.appendChild(fileView(message.file));
    }
    if (message.html) {
      const text = document.createElement("div");
      text.className = "text";
      text.innerHTML = message.html; // sanitised on the server (web_protocol.sanitize_html)
      body.appendChild(text);
    }
    const time = document.createElement("time");
    time.textContent = message.time;
    body.appendChild(time);
    row.appendChild(body);
    if (message.choices && message.choices.length) {
      row.appendChild(choicesView(message));
    }
    return row;
  }

  function fileView(file) {
    if (file.kind === "photo") {
      const link = document.createElement("a");
      link.href = file.url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = document.createElement("img");
      img.src = file.url;
      img.alt = fill(texts.photo_alt, { name: file.name });
      img.className = "photo";
      img.addEventListener("load", scrollDown);
      link.appendChild(img);
      return link;
    }
    const link = document.createElement("a");
    link.className = "document";
    link.href = file.url;
    link.download = file.name;
    link.textContent = "📄 " + file.name;
    link.title = texts.download;
    return link;
  }

  function choicesView(message) {
    const box = document.createElement("div");
    box.className = message.stale ? "choices stale" : "choices";
    if (message.stale) box.title = texts.stale_buttons;
    for (const row of message.choices) {
      const line = document.createElement("div");
      line.className = "choice-row";
      for (const choice of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.label;
        // Earlier in the conversation: greyed out and inert (the server would refuse too).
        button.disabled = Boolean(message.stale);
        button.addEventListener("click", () => {
          button.classList.add("pressed");
          setTimeout(() => button.classList.remove("pressed"), 600);
          send({ type: "choice", token: choice.token, message: message.id });
        });
        line.appendChild(button);
      }
      box.appendChild(line);
    }
    return box;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function showEntry() {
    $("entry").hidden = log.children.length > 0;
  }

  function add(message) {
    log.appendChild(bubble(message));
    showEntry();
    scrollDown();
  }

  function replace(message) {
    const old = document.getElementById(message.id);
    if (old) {
      old.replaceWith(bubble(message));
    } else {
      add(message);
    }
  }

  // -- the websocket -------------------------------------------------------------------------

  function send(event) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(event));
      return true;
    }
    setStatus("disconnected");
    return false;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(scheme + "://" + location.host + "/ws?lang=" + config.lang);
    socket = ws;
    let opened = false;
    setStatus("connecting");
    ws.addEventListener("open", () => {
      opened = everOpened = true;
      retry = 0;
      setStatus("connected");
    });
    ws.addEventListener("message", (frame) => {
      const event = JSON.parse(frame.data);
      if (event.type === "hello") {
        log.replaceChildren();
        event.history.forEach((m) => log.appendChild(bubble(m)));
        $("numbered").hidden = !event.numbered;
        document.body.dataset.chat = event.chat;
        applyMeta(event.meta);
        showEntry();
        scrollDown();
      } else if (event.type === "message") {
        add(event.message);
      } else if (event.type === "edit") {
        replace(event.message);
      } else if (event.type === "toast") {
        toast(event.text);
      } else if (event.type === "meta") {
        applyMeta(event);
      }
    });
    ws.addEventListener("close", async () => {
      if (socket !== ws) return; // replaced on purpose (a demo person switch)
      setStatus(everOpened ? "disconnected" : "connecting");
      if (!opened) {
        // Refused: the session cookie is from a server that restarted. The page hands
        // out a new one.
        await fetch(location.pathname + location.search, { credentials: "same-origin" });
      }
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 500 * retry);
    });
  }

  function reconnect() {
    const old = socket;
    socket = null;
    if (old) old.close();
    connect();
  }

  // -- typing, commands, codes, files ------------------------------------------------------

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (text && send({ type: "text", text: text })) input.value = "";
  });

  $("code-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("code").value.trim();
    if (code && send({ type: "text", text: "/start " + code })) $("code").value = "";
  });

  function commandButton(button) {
    button.addEventListener("click", () => send({ type: "text", text: button.dataset.command }));
  }
  document.querySelectorAll("[data-command]").forEach(commandButton);

  // The person's language and commands (the server's "meta"): the page follows them.
  let meta = null;
  function applyMeta(next) {
    if (!next) return;
    meta = next;
    if (next.lang && next.lang !== config.lang) {
      const query = new URLSearchParams(location.search);
      query.set("lang", next.lang);
      location.replace("?" + query.toString()); // the whole page, in that language
      return;
    }
    const bar = document.querySelector("nav.commands");
    const buttons = (next.commands || [])
      .filter((name) => name in config.commands)
      .map((name) => {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.command = "/" + name;
        button.textContent = config.commands[name];
        commandButton(button);
        return button;
      });
    if (buttons.length) bar.replaceChildren(...buttons);
  }

  // The language link: once the person is in the conversation, it changes their language
  // (as /lang does), so the bot and the page stay in one language.
  document.querySelector("a.lang").addEventListener("click", (e) => {
    if (!meta) return; // not in the conversation yet: the link just reloads the page
    e.preventDefault();
    const lang = new URL(e.currentTarget.href).searchParams.get("lang");
    send({ type: "text", text: "/lang " + lang });
  });

  $("file").addEventListener("change", async () => {
    const input = $("file");
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    if (file.size > config.maxUpload) {
      toast(fill(texts.too_large, { max: Math.floor(config.maxUpload / 1048576) }));
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    toast(fill(texts.uploading, { name: file.name }));
    try {
      const response = await fetch("/upload?lang=" + config.lang, {
        method: "POST", body: form, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      $("toast").hidden = true; // the bot's answer says what became of the file
    } catch (error) {
      toast(fill(texts.upload_failed, { name: file.name, reason: error.message }));
    }
  });

  // -- the demo's controls (only when /demo/state exists) ----------------------------------

  async function post(url, body) {
    const response = await fetch(url + "?lang=" + config.lang, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  function drawDemo(state) {
    demo = state;
    $("demo").hidden = false;
    $("demo-clock").textContent = state.now;
    const select = $("person");
    const current = state.people.find((p) => p.current);
    if (current) seen[current.key] = current.messages;
    select.replaceChildren();
    for (const person of state.people) {
      const option = document.createElement("option");
      option.value = person.key;
      const fresh = person.messages - (seen[person.key] || 0);
      option.textContent = person.label + (!person.current && fresh > 0 ? " (+" + fresh + ")" : "");
      option.selected = person.current;
      select.appendChild(option);
    }
    const list = $("codes");
    list.replaceChildren();
    for (const item of state.codes) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "code";
      button.textContent = item.code;
      button.title = texts.use_code;
      button.addEventListener("click", () => { $("code").value = item.code; $("code").focus(); });
      li.append(button, " " + item.label);
      list.appendChild(li);
    }
    $("demo-codes").hidden = state.codes.length === 0;
  }

  async function refreshDemo() {
    try {
      const response = await fetch("/demo/state?lang=" + config.lang, { credentials: "same-origin" });
      if (response.ok) drawDemo(await response.json());
      return response.status;
    } catch (error) {
      return 0; // the server is restarting
    }
  }

  async function startDemo() {
    // 404: not a demo. 503: the demo data is still being made; ask again shortly.
    for (let attempt = 0; attempt < 60; attempt++) {
      const status = await refreshDemo();
      if (status !== 503 && status !== 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    if (demo) setInterval(refreshDemo, 5000);
  }

  $("person").addEventListener("change", async () => {
    try {
      drawDemo(await post("/demo/switch", { person: $("person").value }));
      reconnect();
    } catch (error) {
      refreshDemo(); // puts the selection back to who the page still is
    }
  });

  document.querySelectorAll("[data-step]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const state = await post("/demo/time", { step: button.dataset.step });
        drawDemo(state);
        toast(fill(texts.time_moved, { time: state.now }));
      } finally {
        button.disabled = false;
      }
    });
  });

  connect();
  startDemo();
})();
