// The reference frontend: plain JavaScript on the API's cookies (contract sections 4 and 5).
//
// The session lives in the API's HttpOnly cookies; this page never stores a token. Every
// unsafe request carries X-CSRF-Token: the `csrf_token` of the last Session body, kept in
// localStorage so that a page on another host of the same site (which cannot read the
// API's `csrf-token` cookie) survives a reload; a same-origin page can fall back to that
// cookie. The token is useless without the cookies, which scripts cannot read.
'use strict';

(() => {
  const API = (document.querySelector('meta[name="api-base"]')?.content || '/api').replace(/\/+$/, '');
  const CSRF_KEY = 'vehicles.csrf';
  const FLASH_KEY = 'vehicles.flash';
  const RECOVERY_KEY = 'vehicles.recovery';
  const RECOVERY_WINDOW_MS = 10 * 60 * 1000; // the API's window for a password without the current one
  const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
  const $ = (id) => document.getElementById(id);

  /** A refused request: its status and the API's problem details (RFC 9457). */
  class Problem extends Error {
    constructor(status, body) {
      super(body.title || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  const state = {
    csrf: localStorage.getItem(CSRF_KEY),
    user: null,
    filters: { sort: '-created_at' },
    cursor: null,
    vehicle: null, // the vehicle being edited, as last read (null: creating one)
    etag: null,
    pending: {}, // form id -> {json, key}: the Idempotency-Key of a retried, unchanged body
  };

  // ------------------------------------------------------------------ talking to the API

  function csrfToken() {
    if (state.csrf) return state.csrf;
    const cookie = document.cookie.split('; ').find((c) => c.startsWith('csrf-token='));
    return cookie ? decodeURIComponent(cookie.slice('csrf-token='.length)) : '';
  }

  function remember(session) {
    state.csrf = session.csrf_token;
    localStorage.setItem(CSRF_KEY, session.csrf_token);
  }

  function forget() {
    state.csrf = null;
    state.user = null;
    localStorage.removeItem(CSRF_KEY);
    sessionStorage.removeItem(RECOVERY_KEY);
  }

  async function request(method, path, { body, headers = {}, retry = true } = {}) {
    const init = { method, credentials: 'include', headers: { Accept: 'application/json', ...headers } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (UNSAFE.has(method) && csrfToken()) init.headers['X-CSRF-Token'] = csrfToken();
    let response;
    try {
      response = await fetch(API + path, init);
    } catch {
      throw new Problem(0, { title: 'The API cannot be reached', detail: 'Check your connection and try again.' });
    }
    // An expired access cookie: the refresh cookie renews the session once, then the call is repeated.
    if (response.status === 401 && retry && !path.startsWith('/auth/') && (await refresh())) {
      return request(method, path, { body, headers, retry: false });
    }
    const type = response.headers.get('Content-Type') || '';
    const data = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      const problem = data && typeof data === 'object' ? data : { title: `HTTP ${response.status}` };
      throw new Problem(response.status, problem);
    }
    return { status: response.status, data, etag: response.headers.get('ETag') };
  }

  let refreshing = null;
  function refresh() {
    // One at a time: the refresh token rotates, so two concurrent refreshes would race.
    refreshing ??= request('POST', '/auth/refresh', { body: {}, retry: false })
      .then(({ data }) => { remember(data); return true; })
      .catch(() => false)
      .finally(() => { refreshing = null; });
    return refreshing;
  }

  function idempotencyKey(formId, body) {
    const json = JSON.stringify(body);
    if (state.pending[formId]?.json !== json) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      state.pending[formId] = { json, key: Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('') };
    }
    return state.pending[formId].key;
  }

  // ------------------------------------------------------------------ messages

  function fieldFor(form, name) {
    return form?.querySelector(`[data-field="${CSS.escape(name)}"], [name="${CSS.escape(name)}"]`) || null;
  }

  function labelOf(form, name) {
    const field = fieldFor(form, name);
    const label = field && form.querySelector(`label[for="${CSS.escape(field.id)}"]`);
    return label ? label.firstChild.textContent.trim() : name;
  }

  function clearMessages() {
    $('problem').hidden = true;
    $('notice').hidden = true;
    for (const hint of document.querySelectorAll('.field-error')) hint.remove();
    for (const field of document.querySelectorAll('[aria-invalid]')) {
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-describedby');
    }
  }

  function notify(text) {
    $('notice').textContent = text;
    $('notice').hidden = !text;
  }

  /** Show a problem's title, detail and field errors (also next to the fields of `form`). */
  function showProblem(error, form) {
    const body = error instanceof Problem ? error.body : { title: 'Something went wrong', detail: String(error?.message || error) };
    $('problem-title').textContent = body.title || 'Request failed';
    $('problem-detail').textContent = body.detail || '';
    const list = $('problem-errors');
    list.replaceChildren();
    for (const item of Array.isArray(body.errors) ? body.errors : []) {
      const entry = document.createElement('li');
      entry.textContent = item.field ? `${labelOf(form, item.field)}: ${item.message}` : item.message;
      list.append(entry);
      const field = item.field && fieldFor(form, item.field);
      if (field && !field.hasAttribute('aria-invalid')) {
        const hint = document.createElement('p');
        hint.className = 'field-error';
        hint.id = `${field.id}-error`;
        hint.textContent = item.message;
        field.after(hint);
        field.setAttribute('aria-invalid', 'true');
        field.setAttribute('aria-describedby', hint.id);
      }
    }
    $('problem-request-id').textContent = body.request_id || '';
    $('problem-request-id').parentElement.hidden = !body.request_id;
    $('problem').hidden = false;
    $('problem').focus();
  }

  /** Run a form's action on submit, with messages cleared first and a problem shown on failure. */
  function onSubmit(id, action) {
    const form = $(id);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearMessages();
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      try {
        await action(form, new FormData(form));
      } catch (error) {
        showProblem(error, form);
      } finally {
        button.disabled = false;
      }
    });
  }

  function onClick(id, action) {
    $(id).addEventListener('click', async () => {
      clearMessages();
      try {
        await action();
      } catch (error) {
        showProblem(error);
      }
    });
  }

  function show(name) {
    for (const screen of document.querySelectorAll('.screen')) screen.hidden = screen.id !== `screen-${name}`;
    document.title = `${$(`screen-${name}`).querySelector('h2, caption').textContent} – Vehicles`;
  }

  // ------------------------------------------------------------------ values

  const text = (data, name) => String(data.get(name) ?? '').trim();

  /** An integer when the input is one; otherwise the raw text, for the API to explain. */
  function integer(raw) {
    return /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }

  function cents(raw) {
    return /^\d+(\.\d{1,2})?$/.test(raw) ? Math.round(Number(raw) * 100) : raw;
  }

  function cell(value) {
    const td = document.createElement('td');
    td.textContent = value ?? '';
    return td;
  }

  // The email link's landing page has none of the app's forms.
  if (document.body.dataset.page === 'confirm') {
    startConfirm();
    return;
  }

  // ------------------------------------------------------------------ accounts

  async function enter(message) {
    const { data } = await request('GET', '/me');
    state.user = data;
    $('user-email').textContent = data.email;
    $('user-role').textContent = data.role;
    $('whoami').hidden = false;
    if (recovering()) {
      openPassword();
      notify('Choose a new password.');
      return;
    }
    show('vehicles');
    await loadVehicles();
    notify(message || '');
  }

  function signedOut(message) {
    forget();
    $('whoami').hidden = true;
    show('login');
    notify(message || '');
  }

  function recovering() {
    const since = Number(sessionStorage.getItem(RECOVERY_KEY));
    return Boolean(since) && Date.now() - since < RECOVERY_WINDOW_MS;
  }

  function openPassword() {
    const recovery = recovering();
    $('password-form').reset();
    $('current-password-field').hidden = recovery;
    $('password-cancel').hidden = recovery;
    $('password-heading').textContent = recovery ? 'Set a new password' : 'Change your password';
    show('password');
  }

  onSubmit('login-form', async (form, data) => {
    const { data: session } = await request('POST', '/auth/login', {
      body: { email: text(data, 'email'), password: data.get('password') },
    });
    remember(session);
    form.reset();
    await enter(`Welcome, ${session.user.email}.`);
  });

  onSubmit('signup-form', async (form, data) => {
    const email = text(data, 'email');
    const { data: result } = await request('POST', '/auth/signup', {
      body: { email, password: data.get('password'), redirect_to: location.origin },
    });
    form.reset();
    if (result.session) {
      remember(result.session);
      await enter(`Welcome, ${email}.`);
      return;
    }
    $('login-email').value = email;
    show('login');
    notify(`We sent a confirmation link to ${email}. Follow it to finish signing up.`);
  });

  onSubmit('recover-form', async (form, data) => {
    const email = text(data, 'email');
    await request('POST', '/auth/recover', { body: { email, redirect_to: location.origin } });
    form.reset();
    show('login');
    notify(`If ${email} has an account, a link to reset its password is on its way.`);
  });

  onSubmit('password-form', async (form, data) => {
    const body = { password: data.get('password') };
    if (!recovering()) body.current_password = data.get('current_password');
    await request('PUT', '/me/password', { body });
    sessionStorage.removeItem(RECOVERY_KEY);
    form.reset();
    show('vehicles');
    await loadVehicles();
    notify('Your password is changed. Your other sessions are signed out.');
  });

  onClick('show-password', async () => openPassword());

  onClick('logout', async () => {
    try {
      await request('POST', '/auth/logout', { body: {} });
    } catch (error) {
      // A session that already ended is logged out all the same.
      if (!(error instanceof Problem && error.status === 401)) throw error;
    }
    signedOut('You are logged out.');
  });

  // ------------------------------------------------------------------ vehicles

  async function loadVehicles(more = false) {
    const params = new URLSearchParams({ limit: '20' });
    for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
    if (more && state.cursor) params.set('cursor', state.cursor);
    const { data } = await request('GET', `/vehicles?${params}`);
    const rows = $('vehicle-rows');
    if (!more) rows.replaceChildren();
    for (const vehicle of data.data) rows.append(vehicleRow(vehicle));
    state.cursor = data.next_cursor;
    $('more-vehicles').hidden = !state.cursor;
    $('vehicle-empty').hidden = rows.children.length > 0;
  }

  function vehicleRow(vehicle) {
    const row = document.createElement('tr');
    row.dataset.id = vehicle.id;
    row.append(
      cell(vehicle.vin),
      cell(`${vehicle.make} ${vehicle.model}`),
      cell(vehicle.model_year),
      cell(vehicle.plate),
      cell(vehicle.odometer_km.toLocaleString('en')),
      cell(vehicle.status),
    );
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'secondary';
    open.textContent = 'Open';
    open.setAttribute('aria-label', `Open ${vehicle.make} ${vehicle.model} ${vehicle.vin}`);
    open.addEventListener('click', async () => {
      clearMessages();
      try {
        await openVehicle(vehicle.id);
      } catch (error) {
        showProblem(error);
      }
    });
    const actions = cell('');
    actions.append(open);
    row.append(actions);
    return row;
  }

  onSubmit('filter-form', async (form, data) => {
    state.filters = { q: text(data, 'q'), status: text(data, 'status'), sort: text(data, 'sort') };
    await loadVehicles();
  });

  onClick('more-vehicles', () => loadVehicles(true));

  onClick('new-vehicle', async () => {
    state.vehicle = null;
    state.etag = null;
    $('vehicle-form').reset();
    $('vehicle-vin').readOnly = false;
    $('vehicle-heading').textContent = 'Add a vehicle';
    $('maintenance').hidden = true;
    show('vehicle');
  });

  function fillVehicle(vehicle, etag) {
    state.vehicle = vehicle;
    state.etag = etag;
    const form = $('vehicle-form');
    for (const name of ['vin', 'make', 'model', 'model_year', 'plate', 'color', 'odometer_km', 'status']) {
      form.elements[name].value = vehicle[name] ?? '';
    }
    $('vehicle-vin').readOnly = true; // a VIN never changes
    $('vehicle-heading').textContent = `${vehicle.make} ${vehicle.model}`;
  }

  async function openVehicle(id) {
    const { data, etag } = await request('GET', `/vehicles/${encodeURIComponent(id)}`);
    fillVehicle(data, etag);
    $('maintenance-form').reset();
    $('record-date').value = new Date().toISOString().slice(0, 10);
    $('record-odometer').value = data.odometer_km;
    $('maintenance').hidden = false;
    show('vehicle');
    await loadMaintenance();
  }

  function vehicleFields(data) {
    const optional = (name) => text(data, name) || null;
    return {
      make: text(data, 'make'),
      model: text(data, 'model'),
      model_year: integer(text(data, 'model_year')),
      plate: optional('plate'),
      color: optional('color'),
      odometer_km: text(data, 'odometer_km') === '' ? 0 : integer(text(data, 'odometer_km')),
      status: text(data, 'status'),
    };
  }

  onSubmit('vehicle-form', async (form, data) => {
    const fields = vehicleFields(data);
    if (!state.vehicle) {
      const body = { vin: text(data, 'vin'), ...fields };
      for (const name of ['plate', 'color']) if (body[name] === null) delete body[name];
      const { data: created } = await request('POST', '/vehicles', {
        body,
        headers: { 'Idempotency-Key': idempotencyKey('vehicle-form', body) },
      });
      delete state.pending['vehicle-form'];
      show('vehicles');
      await loadVehicles();
      notify(`Added ${created.make} ${created.model} (${created.vin}).`);
      return;
    }
    // Only what changed, guarded by the ETag it was read with: a concurrent edit is a 412.
    const changes = Object.fromEntries(Object.entries(fields).filter(([name, value]) => value !== (state.vehicle[name] ?? null)));
    if (Object.keys(changes).length === 0) {
      notify('Nothing has changed.');
      return;
    }
    const { data: saved } = await request('PATCH', `/vehicles/${encodeURIComponent(state.vehicle.id)}`, {
      body: changes,
      headers: state.etag ? { 'If-Match': state.etag } : {},
    });
    show('vehicles');
    await loadVehicles();
    notify(`Saved ${saved.make} ${saved.model} (version ${saved.version}).`);
  });

  // ------------------------------------------------------------------ maintenance

  async function loadMaintenance() {
    const id = encodeURIComponent(state.vehicle.id);
    const { data } = await request('GET', `/vehicles/${id}/maintenance?limit=100`);
    const rows = $('maintenance-rows');
    rows.replaceChildren();
    for (const record of data.data) {
      const row = document.createElement('tr');
      const cost = record.cost_cents == null ? '' : `${(record.cost_cents / 100).toFixed(2)} ${record.currency}`;
      row.append(
        cell(record.performed_at),
        cell(record.kind),
        cell(record.odometer_km.toLocaleString('en')),
        cell(cost),
        cell(record.description),
      );
      rows.append(row);
    }
    $('maintenance-empty').hidden = data.data.length > 0;
  }

  onSubmit('maintenance-form', async (form, data) => {
    const body = {
      performed_at: text(data, 'performed_at'),
      kind: text(data, 'kind'),
      odometer_km: integer(text(data, 'odometer_km')),
      currency: text(data, 'currency').toUpperCase() || 'USD',
    };
    if (text(data, 'description')) body.description = text(data, 'description');
    if (text(data, 'cost')) body.cost_cents = cents(text(data, 'cost'));
    const id = encodeURIComponent(state.vehicle.id);
    await request('POST', `/vehicles/${id}/maintenance`, {
      body,
      headers: { 'Idempotency-Key': idempotencyKey('maintenance-form', body) },
    });
    delete state.pending['maintenance-form'];
    // A record above the odometer raised the vehicle's, and its version: read it again.
    const { data: vehicle, etag } = await request('GET', `/vehicles/${id}`);
    fillVehicle(vehicle, etag);
    $('record-description').value = '';
    $('record-cost').value = '';
    await loadMaintenance();
    notify(`Added a ${body.kind} record.`);
  });

  // ------------------------------------------------------------------ navigation and start

  for (const link of document.querySelectorAll('[data-screen]')) {
    link.addEventListener('click', async (event) => {
      event.preventDefault();
      clearMessages();
      show(link.dataset.screen);
    });
  }

  /** GoTrue's default email links land here with the outcome in the fragment (a local stack's mail). */
  function linkFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (!fragment.has('access_token') && !fragment.has('error_description')) return null;
    history.replaceState(null, '', location.pathname + location.search); // tokens never stay in history
    if (fragment.has('error_description')) {
      return { problem: new Problem(401, { title: 'This link is invalid or has expired', detail: fragment.get('error_description') }) };
    }
    const confirmed = fragment.get('type') === 'signup'
      ? 'Your email address is confirmed. Log in to continue.'
      : 'That link opened a session outside this app, which keeps its own in the API\'s cookies: log in here (email templates should link to /auth/confirm).';
    return { notice: confirmed };
  }

  async function startApp() {
    const fromLink = linkFragment();
    const flash = sessionStorage.getItem(FLASH_KEY);
    sessionStorage.removeItem(FLASH_KEY);
    try {
      await enter(flash);
    } catch (error) {
      signedOut();
      if (!(error instanceof Problem && error.status === 401)) showProblem(error);
    }
    if (fromLink?.problem) showProblem(fromLink.problem);
    if (fromLink?.notice) notify(fromLink.notice);
  }

  /** The email link's landing page: POST its token_hash and type, then on to the app. */
  async function startConfirm() {
    const params = new URLSearchParams(location.search);
    const tokenHash = params.get('token_hash');
    const type = params.get('type');
    history.replaceState(null, '', location.pathname); // the token never stays in history
    try {
      if (!tokenHash || !type) {
        throw new Problem(400, { title: 'This link is incomplete', detail: 'Open the link from your email again, or ask for a new one.' });
      }
      const { data } = await request('POST', '/auth/verify', { body: { token_hash: tokenHash, type } });
      remember(data);
      if (type === 'recovery') sessionStorage.setItem(RECOVERY_KEY, String(Date.now()));
      else sessionStorage.setItem(FLASH_KEY, `Your email address is confirmed. Welcome, ${data.user.email}.`);
      location.replace(new URL('/', location.href).href);
    } catch (error) {
      notify('');
      showProblem(error);
    }
  }

  startApp();
})();
