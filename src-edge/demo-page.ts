// GET /: a one-file demo of the API. No framework, no build step, nothing fetched from elsewhere: pick an
// image, upload it with progress, compare before/after with a slider, download the result.

export function demoPage(opts: { auth: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>srq upscaler</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; }
  label { display: flex; flex-direction: column; gap: .2rem; font-size: 13px; }
  button { padding: .45rem 1.2rem; }
  progress { width: 100%; height: .6rem; }
  #status { min-height: 1.4em; margin: .5rem 0; }
  #status.error { color: #b00020; }
  .compare { position: relative; display: inline-block; max-width: 100%; line-height: 0; background: #eee; user-select: none; }
  .compare img { display: block; max-width: 100%; height: auto; }
  .compare #before { position: absolute; inset: 0; width: 100%; height: 100%; clip-path: inset(0 calc(100% - var(--pos, 50%)) 0 0); }
  .compare .handle { position: absolute; top: 0; bottom: 0; left: var(--pos, 50%); width: 2px; background: #fff; box-shadow: 0 0 3px #000; pointer-events: none; }
  #slider { width: 100%; margin: .5rem 0; }
  [hidden] { display: none !important; }
  small { color: #666; }
</style>
</head>
<body>
<h1>srq upscaler</h1>
<form id="form">
  <label>Image (PNG or JPEG)<input id="file" type="file" accept="image/png,image/jpeg" required></label>
  <label>Model<select id="model"></select></label>
  <label>Output<select id="format"><option value="">same as input</option><option value="png">PNG</option><option value="jpeg">JPEG</option></select></label>
  <label${opts.auth ? '' : ' hidden'}>API key<input id="key" type="password" autocomplete="off"></label>
  <button id="go" type="submit">Upscale</button>
</form>
<p id="serving"><small></small></p>
<progress id="progress" max="1" value="0" hidden></progress>
<div id="status" role="status"></div>
<section id="result" data-state="idle" hidden>
  <div class="compare" id="compare"><img id="after" alt="upscaled"><img id="before" alt="original"><div class="handle"></div></div>
  <input id="slider" type="range" min="0" max="100" value="50" aria-label="before/after">
  <p><a id="download" download>Download</a> <small id="meta"></small></p>
</section>
<script>
const $ = (id) => document.getElementById(id);
const state = { afterUrl: null, beforeUrl: null };
const auth = () => ($('key').value ? { Authorization: 'Bearer ' + $('key').value } : {});

function say(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

async function loadModels() {
  const res = await fetch('/v1/models', { headers: auth() });
  const body = await res.json();
  if (!res.ok) return say(body.error.message, true);
  $('model').replaceChildren(...body.models.filter((m) => m.served).map((m) => {
    const o = new Option(m.name + ' (x' + m.scale + ', ' + m.served.variant + ')', m.name);
    o.selected = m.name === body.defaultModel;
    return o;
  }));
  $('serving').firstElementChild.textContent = 'Serving ' + body.serving.label + ' on ' + body.runtime + ': ' + body.serving.reason;
}

function upscale(file) {
  const params = new URLSearchParams({ model: $('model').value });
  if ($('format').value) params.set('format', $('format').value);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/v1/upscale?' + params);
  xhr.responseType = 'blob';
  xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
  for (const [k, v] of Object.entries(auth())) xhr.setRequestHeader(k, v);
  const bar = $('progress');
  bar.hidden = false;
  bar.value = 0;
  const started = performance.now();
  let ticker;
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) { bar.value = e.loaded / e.total; say('Uploading… ' + Math.round(100 * e.loaded / e.total) + '%'); } };
  xhr.upload.onload = () => {
    bar.removeAttribute('value');
    ticker = setInterval(() => say('Upscaling… ' + ((performance.now() - started) / 1000).toFixed(0) + ' s'), 500);
  };
  xhr.onprogress = (e) => { if (e.lengthComputable) { bar.value = e.loaded / e.total; say('Downloading… ' + Math.round(100 * e.loaded / e.total) + '%'); } };
  xhr.onloadend = async () => {
    clearInterval(ticker);
    bar.hidden = true;
    $('go').disabled = false;
    if (xhr.status !== 200) {
      let message = 'request failed (HTTP ' + xhr.status + ')';
      try { message = JSON.parse(await xhr.response.text()).error.message; } catch {}
      return say(message, true);
    }
    show(file, xhr.response, xhr, (performance.now() - started) / 1000);
  };
  $('go').disabled = true;
  $('result').dataset.state = 'busy';
  xhr.send(file);
}

function show(file, blob, xhr, seconds) {
  for (const url of [state.afterUrl, state.beforeUrl]) if (url) URL.revokeObjectURL(url);
  state.afterUrl = URL.createObjectURL(blob);
  state.beforeUrl = URL.createObjectURL(file);
  const scale = xhr.getResponseHeader('x-srq-scale');
  const ext = blob.type === 'image/png' ? 'png' : 'jpg';
  let pending = 2;
  const loaded = () => { if (--pending === 0) { $('result').dataset.state = 'done'; say('Done in ' + seconds.toFixed(1) + ' s.'); } };
  $('after').onload = loaded;
  $('before').onload = loaded;
  $('after').src = state.afterUrl;
  $('before').src = state.beforeUrl;
  $('download').href = state.afterUrl;
  $('download').download = file.name.replace(/\\.[^.]*$/, '') + '-x' + scale + '.' + ext;
  $('meta').textContent = [xhr.getResponseHeader('x-srq-model'), xhr.getResponseHeader('x-srq-device') + '-' + xhr.getResponseHeader('x-srq-variant'),
    xhr.getResponseHeader('x-srq-tiles') + ' tiles', xhr.getResponseHeader('server-timing')].join(' · ');
  $('result').hidden = false;
}

$('slider').oninput = () => $('compare').style.setProperty('--pos', $('slider').value + '%');
$('form').onsubmit = (e) => {
  e.preventDefault();
  const file = $('file').files[0];
  if (file) upscale(file);
};
$('key').onchange = loadModels;
loadModels().catch((e) => say('cannot reach the API: ' + e.message, true));
</script>
</body>
</html>
`;
}
