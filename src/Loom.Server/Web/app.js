'use strict';
// Loom's page: a chat streamed from /v1/chat/completions, and the engine's state polled from /metrics.
// Only the public API is used, so the page shows what any client of this server would get.
(() => {
  const $ = id => document.getElementById(id);
  const keyStore = 'loom.apiKey';
  // Session storage: the key lives as long as the tab, never on disk beyond it.
  let apiKey = sessionStorage.getItem(keyStore) ?? '';
  let model = null;
  let history = [];
  let controller = null;

  function headers(json) {
    const h = {};
    if (json) h['Content-Type'] = 'application/json';
    if (apiKey) h.Authorization = `Bearer ${apiKey}`;
    return h;
  }

  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: headers(init.body !== undefined) });
    if (res.status === 401) {
      $('key-form').hidden = false;
      $('key').focus();
      throw new Error(apiKey ? 'The server refused this API key.' : 'This server needs an API key.');
    }
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
    }
    return res;
  }

  function showError(message) {
    $('error').textContent = message;
    $('error').hidden = !message;
  }

  async function loadModel() {
    try {
      const card = (await (await api('/v1/models')).json()).data[0];
      model = card.id;
      $('model').textContent = card.id;
      $('context').textContent = `context ${card.max_model_len} tokens`;
      $('max_tokens').max = card.max_model_len;
      showError('');
    } catch (e) {
      showError(e.message);
    }
  }

  $('key-form').addEventListener('submit', e => {
    e.preventDefault();
    apiKey = $('key').value.trim();
    sessionStorage.setItem(keyStore, apiKey);
    $('key-form').hidden = true;
    loadModel();
  });

  // Blank fields are left out, so the server's defaults apply.
  function samplingParams() {
    const p = {};
    for (const name of ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'max_tokens', 'seed']) {
      const v = $(name).value.trim();
      if (v !== '') p[name] = Number(v);
    }
    if ($('ignore_eos').checked) p.ignore_eos = true;
    return p;
  }

  function addMessage(role, text) {
    const div = document.createElement('div');
    div.className = `msg ${role}`;
    const body = document.createElement('div');
    body.className = 'text';
    body.textContent = text;
    const meta = document.createElement('div');
    meta.className = 'meta';
    div.append(body, meta);
    $('log').append(div);
    $('log').scrollTop = $('log').scrollHeight;
    return { div, body, meta };
  }

  // Server-sent events from a fetch body: fetch, unlike EventSource, can POST, send the key and be aborted.
  async function* events(stream) {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n')
          .filter(line => line.startsWith('data:')).map(line => line.slice(5).replace(/^ /, '')).join('\n');
        buffer = buffer.slice(end + 2);
        if (data === '[DONE]') return;
        if (data) yield JSON.parse(data);
      }
    }
  }

  function setBusy(busy) {
    $('send').disabled = busy;
    $('stop').disabled = !busy;
    document.body.dataset.busy = busy;
  }

  async function send(text) {
    if (!model) await loadModel();
    if (!model) return;
    // Cleared only now: a message typed before the key was given is still there to send once it is.
    $('prompt').value = '';
    showError('');
    const messages = [...history, { role: 'user', content: text }];
    const system = $('system').value.trim();
    addMessage('user', text);
    const out = addMessage('assistant', '');
    out.div.classList.add('streaming');
    setBusy(true);
    controller = new AbortController();
    let answer = '', finish = '', chunks = 0, usage = null, firstAt = 0;
    const started = performance.now();
    try {
      const res = await api('/v1/chat/completions', {
        method: 'POST',
        signal: controller.signal,
        body: JSON.stringify({
          model,
          messages: system ? [{ role: 'system', content: system }, ...messages] : messages,
          stream: true,
          stream_options: { include_usage: true },
          ...samplingParams(),
        }),
      });
      for await (const chunk of events(res.body)) {
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (choice?.delta?.content) {
          if (!firstAt) firstAt = performance.now();
          answer += choice.delta.content;
          chunks++;
          out.body.textContent = answer;
          $('log').scrollTop = $('log').scrollHeight;
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
      }
    } catch (e) {
      if (e.name === 'AbortError') finish = 'stopped';
      else { finish = 'error'; showError(e.message); }
    } finally {
      controller = null;
      out.div.classList.remove('streaming');
      const tokens = usage?.completion_tokens ?? chunks;
      const seconds = (performance.now() - (firstAt || started)) / 1000;
      out.meta.textContent = [
        `${tokens} tokens`,
        firstAt ? `first after ${((firstAt - started) / 1000).toFixed(2)} s` : '',
        tokens > 1 && seconds > 0 ? `${(tokens / seconds).toFixed(1)} tokens/s` : '',
        finish,
      ].filter(Boolean).join(' · ');
      out.div.dataset.finish = finish;
      // A stopped answer stays in the conversation as far as it got; a failed turn leaves no trace in it.
      if (finish !== 'error' || answer) history = [...messages, { role: 'assistant', content: answer }];
      setBusy(false);
    }
  }

  $('chat-form').addEventListener('submit', e => {
    e.preventDefault();
    const text = $('prompt').value.trim();
    if (!text || controller) return;
    send(text);
  });
  $('prompt').addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('stop').addEventListener('click', () => controller?.abort());
  $('clear').addEventListener('click', () => {
    controller?.abort();
    history = [];
    $('log').replaceChildren();
    showError('');
  });

  // --- Engine state: /metrics every second; tokens/s is the change of the generated-token counter.
  const chartPoints = 60;
  const rates = [];
  let previous = null;

  function parseMetrics(text) {
    const values = new Map();
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) values.set(m[1], { labels: m[2] ?? '', value: Number(m[3]) });
    }
    return values;
  }

  async function poll() {
    try {
      const res = await fetch('/metrics', { headers: headers(false) });
      if (!res.ok) throw new Error(res.statusText);
      const m = parseMetrics(await res.text());
      const get = name => m.get(name)?.value ?? NaN;
      const now = performance.now(), generated = get('loom_generation_tokens_total');
      if (previous && now > previous.at) rates.push(Math.max(0, (generated - previous.generated) * 1000 / (now - previous.at)));
      if (rates.length > chartPoints) rates.shift();
      previous = { at: now, generated };

      const used = get('loom_kv_blocks_used'), cached = get('loom_kv_blocks_cached'), free = get('loom_kv_blocks_free');
      $('m-running').textContent = get('loom_requests_running');
      $('m-waiting').textContent = get('loom_requests_waiting');
      $('m-kv-used').textContent = used;
      $('m-kv-cached').textContent = cached;
      $('m-kv-free').textContent = free;
      $('m-hit-rate').textContent = `${(get('loom_prefix_cache_hit_rate') * 100).toFixed(1)} %`;
      $('m-tps').textContent = rates.length ? rates[rates.length - 1].toFixed(1) : '–';
      const total = used + cached + free;
      $('kv-used-bar').style.width = `${(100 * used / total) || 0}%`;
      $('kv-cached-bar').style.width = `${(100 * cached / total) || 0}%`;
      const kernels = /kernels="([^"]*)"/.exec(m.get('loom_kernels_info')?.labels ?? '');
      if (kernels) $('kernels').textContent = `kernels ${kernels[1]}`;
      drawChart();
    } catch {
      $('m-tps').textContent = '–';
    } finally {
      setTimeout(poll, 1000);
    }
  }

  function drawChart() {
    const canvas = $('chart');
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const style = getComputedStyle(document.documentElement);
    // The scale steps through 1-2-5 so the top label stays a round number while the load changes.
    const peak = Math.max(1, ...rates);
    const step = 10 ** Math.floor(Math.log10(peak));
    const top = [1, 2, 5, 10].map(f => f * step).find(v => v >= peak);
    const pad = 14;
    g.strokeStyle = style.getPropertyValue('--rule');
    g.fillStyle = style.getPropertyValue('--muted');
    g.font = '10px system-ui, sans-serif';
    g.beginPath(); g.moveTo(0, pad + 0.5); g.lineTo(w, pad + 0.5); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.stroke();
    g.fillText(`${top} tokens/s`, 2, pad - 3);
    if (rates.length < 2) return;
    const x = i => w * (i + chartPoints - rates.length) / (chartPoints - 1);
    const y = v => h - 1 - (h - 1 - pad) * v / top;
    g.beginPath();
    rates.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.strokeStyle = style.getPropertyValue('--accent');
    g.lineWidth = 1.5;
    g.stroke();
    g.lineTo(x(rates.length - 1), h); g.lineTo(x(0), h); g.closePath();
    g.globalAlpha = 0.15; g.fillStyle = g.strokeStyle; g.fill(); g.globalAlpha = 1;
  }

  setBusy(false);
  loadModel();
  poll();
})();
