// Drives a local stack's gateway with the real supabase-js, one JSON line per step on stdout.
//
// Usage: node tests/conformance/supabase_js.mjs <main|confirm>
// Environment: SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY, SUPABASE_SECRET_KEY, INBOX_URL,
// DEMO_PASSWORD, and for `main` VEHICLE_VIN and OTHER_VIN (valid, unused VINs).
//
// When a step needs the harness (aging a refresh token in Postgres), the script prints
// {"ask": ..., ...} and waits for one line on stdin. tests/conformance/test_supabase_js.py
// runs it and asserts every step; the script itself asserts nothing.
import { createInterface } from 'node:readline'
import { createClient } from '@supabase/supabase-js'

const env = process.env
const URL_ = env.SUPABASE_URL
const PUBLISHABLE = env.SUPABASE_PUBLISHABLE_KEY
const SECRET = env.SUPABASE_SECRET_KEY
const INBOX = env.INBOX_URL
const DEMO_PASSWORD = env.DEMO_PASSWORD
const PASSWORD = 'conformance-pass-1'

const stdin = createInterface({ input: process.stdin })
const answers = stdin[Symbol.asyncIterator]()

function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n')
}

// A round trip to the harness: it does what `ask` names and answers with one line.
async function ask(question) {
  emit(question)
  const { value, done } = await answers.next()
  if (done) throw new Error(`the harness closed stdin instead of answering ${question.ask}`)
  return JSON.parse(value)
}

// Node 20 has no global WebSocket and realtime-js refuses to construct without one; these
// tests never open a channel, so a transport that refuses to connect stands in.
class NoWebSocket {
  constructor() {
    throw new Error('the conformance tests do not use Realtime')
  }
}

function client(key = PUBLISHABLE) {
  // No storage, no timers: each client holds its session in memory for this run only.
  return createClient(URL_, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: globalThis.WebSocket ?? NoWebSocket },
  })
}

function described(error) {
  if (!error) return null
  return {
    name: error.name ?? null,
    class: error.constructor?.name ?? null,
    code: error.code ?? null,
    status: error.status ?? null,
    message: error.message ?? null,
    reasons: error.reasons ?? null,
  }
}

// A client that also keeps the raw error answers it received (status and Auth's error code),
// for the errors supabase-js turns into client-side classes.
function recordingClient() {
  const wire = []
  const recording = async (input, init) => {
    const response = await fetch(input, init)
    if (!response.ok) {
      const body = await response.clone().json().catch(() => null)
      wire.push({ status: response.status, code: body?.code ?? body?.error_code ?? null })
    }
    return response
  }
  const made = createClient(URL_, PUBLISHABLE, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: globalThis.WebSocket ?? NoWebSocket },
    global: { fetch: recording },
  })
  return { client: made, wire }
}

// A PostgREST answer: its status, and the error's class and code when there is one.
function rest(response) {
  const { error } = response
  return {
    status: response.status,
    error: error && { class: error.constructor?.name ?? null, code: error.code, message: error.message },
  }
}

async function step(name, body) {
  try {
    emit({ step: name, ...(await body()) })
  } catch (thrown) {
    emit({ step: name, thrown: described(thrown) ?? String(thrown) })
  }
}

function freshEmail(tag) {
  return `js-${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`
}

// The link in the newest email to `address` (the Mailpit JSON API the local inbox serves).
async function latestLink(address) {
  const query = new URLSearchParams({ query: `to:${address}`, limit: '1' })
  const found = await (await fetch(`${INBOX}/api/v1/search?${query}`)).json()
  if (!found.messages.length) return null
  const message = await (await fetch(`${INBOX}/api/v1/message/${found.messages[0].ID}`)).json()
  const link = /https?:\/\/[^\s"'<>]+/.exec(message.Text ?? '')
  return link ? { subject: message.Subject, url: new URL(link[0]) } : null
}

async function main() {
  const email = freshEmail('main')
  const me = client()
  let session = null

  await step('sign_up', async () => {
    const { data, error } = await me.auth.signUp({ email, password: PASSWORD })
    session = data.session
    return {
      error: described(error),
      has_session: Boolean(data.session?.access_token && data.session?.refresh_token),
      email: data.user?.email ?? null,
      identities: data.user?.identities?.map((i) => i.provider) ?? null,
      role: data.user?.role ?? null,
      aud: data.user?.aud ?? null,
    }
  })

  await step('sign_up_existing', async () => {
    // With sign-ups confirmed at once, Supabase says plainly that the address is taken.
    const { data, error } = await client().auth.signUp({ email, password: PASSWORD })
    return { error: described(error), has_user: Boolean(data.user) }
  })

  await step('sign_up_weak_password', async () => {
    const { data, error } = await client().auth.signUp({ email: freshEmail('weak'), password: '123' })
    return { error: described(error), has_user: Boolean(data.user) }
  })

  await step('sign_in_wrong_password', async () => {
    const { data, error } = await client().auth.signInWithPassword({ email, password: 'not-the-password' })
    return { error: described(error), has_session: Boolean(data.session) }
  })

  await step('sign_in', async () => {
    const { data, error } = await me.auth.signInWithPassword({ email, password: PASSWORD })
    session = data.session
    return {
      error: described(error),
      has_session: Boolean(data.session?.access_token),
      token_type: data.session?.token_type ?? null,
      expires_in: data.session?.expires_in ?? null,
      same_user: data.user?.email === email,
    }
  })

  await step('get_user', async () => {
    const { data, error } = await me.auth.getUser()
    return { error: described(error), email: data.user?.email ?? null, same_id: data.user?.id === session.user.id }
  })

  const first = session.refresh_token
  let second = null
  await step('refresh_session', async () => {
    const { data, error } = await me.auth.refreshSession()
    second = data.session?.refresh_token ?? null
    return { error: described(error), rotated: Boolean(second) && second !== first }
  })

  await step('refresh_parent_again', async () => {
    // A client that lost the answer: Supabase hands back the active child token.
    const { data, error } = await client().auth.refreshSession({ refresh_token: first })
    return { error: described(error), got_active_token: data.session?.refresh_token === second }
  })

  await step('refresh_reused_after_interval', async () => {
    const { data } = await me.auth.refreshSession()
    const third = data.session?.refresh_token
    await ask({ ask: 'age_refresh_token', token: first, seconds: 11 })
    const reused = await client().auth.refreshSession({ refresh_token: first })
    return { error: described(reused.error), rotated_again: Boolean(third) && third !== second }
  })

  // The reuse ended that session; sign in again for the rest.
  const events = []
  me.auth.onAuthStateChange((event) => events.push(event))
  await me.auth.signInWithPassword({ email, password: PASSWORD })

  await step('update_user', async () => {
    const { data, error } = await me.auth.updateUser({ data: { nickname: 'conformance' } })
    return {
      error: described(error),
      nickname: data.user?.user_metadata?.nickname ?? null,
      events: [...events],
    }
  })

  await step('reset_password_for_email', async () => {
    const { data, error } = await client().auth.resetPasswordForEmail(email)
    const mail = await latestLink(email)
    return {
      error: described(error),
      data,
      subject: mail?.subject ?? null,
      type: mail?.url.searchParams.get('type') ?? null,
      token_hash: mail?.url.searchParams.get('token') ?? null,
    }
  })

  await step('reset_password_for_unknown_email', async () => {
    // No account enumeration: the same empty answer, and no mail.
    const nobody = freshEmail('nobody')
    const { data, error } = await client().auth.resetPasswordForEmail(nobody)
    return { error: described(error), data, mailed: (await latestLink(nobody)) !== null }
  })

  await step('verify_otp_recovery', async () => {
    const mail = await latestLink(email)
    const recovering = client()
    const seen = []
    recovering.auth.onAuthStateChange((event) => seen.push(event))
    const { data, error } = await recovering.auth.verifyOtp({
      token_hash: mail.url.searchParams.get('token'),
      type: 'recovery',
    })
    const changed = await recovering.auth.updateUser({ password: 'conformance-pass-2' })
    const signedIn = await client().auth.signInWithPassword({ email, password: 'conformance-pass-2' })
    const reused = await client().auth.verifyOtp({ token_hash: mail.url.searchParams.get('token'), type: 'recovery' })
    return {
      error: described(error),
      has_session: Boolean(data.session?.access_token),
      email: data.user?.email ?? null,
      events: seen,
      password_changed: described(changed.error),
      signed_in_with_new_password: Boolean(signedIn.data.session),
      reused_link: described(reused.error),
    }
  })

  await step('sign_out', async () => {
    const { data } = await me.auth.signInWithPassword({ email, password: 'conformance-pass-2' })
    const { access_token: accessToken, refresh_token: refreshToken } = data.session
    const out = await me.auth.signOut()
    const after = await client().auth.refreshSession({ refresh_token: refreshToken })
    const user = await me.auth.getUser()
    const recorder = recordingClient()
    const oldJwt = await recorder.client.auth.getUser(accessToken)
    return {
      error: described(out.error),
      last_event: events.at(-1),
      refresh_after: described(after.error),
      get_user_after: described(user.error),
      old_access_token: described(oldJwt.error),
      old_access_token_wire: recorder.wire,
    }
  })

  await step('refresh_garbage', async () => {
    const { error } = await client().auth.refreshSession({ refresh_token: 'not-a-token' })
    return { error: described(error) }
  })

  await step('admin_users', async () => {
    const admin = client(SECRET).auth.admin
    const target = freshEmail('admin')
    const created = await admin.createUser({ email: target, password: PASSWORD, email_confirm: true })
    const id = created.data.user?.id
    const fetched = await admin.getUserById(id)
    const listed = await admin.listUsers({ page: 1, perPage: 1 })
    const duplicate = await admin.createUser({ email: target, password: PASSWORD })
    const deleted = await admin.deleteUser(id)
    const gone = await admin.getUserById(id)
    const byPublishable = await client().auth.admin.createUser({ email: freshEmail('x'), password: PASSWORD })
    return {
      created: described(created.error),
      confirmed: Boolean(created.data.user?.email_confirmed_at),
      fetched_email: fetched.data.user?.email ?? null,
      listed: listed.data.users?.length ?? null,
      listed_error: described(listed.error),
      duplicate: described(duplicate.error),
      deleted: described(deleted.error),
      gone: described(gone.error),
      publishable_key: described(byPublishable.error),
    }
  })

  await step('vehicles', async () => {
    const member = client()
    const signedMember = await member.auth.signInWithPassword({ email: 'member@example.com', password: DEMO_PASSWORD })
    const memberId = signedMember.data.user.id
    const inserted = await member
      .from('vehicles')
      .insert({ vin: env.VEHICLE_VIN, make: 'Volvo', model: 'V70', model_year: 2019 })
      .select()
      .single()
    const mine = await member.from('vehicles').select('id, owner_id')

    const manager = client()
    const signedManager = await manager.auth.signInWithPassword({ email: 'manager@example.com', password: DEMO_PASSWORD })
    const managerId = signedManager.data.user.id
    const all = await manager.from('vehicles').select('id, owner_id')

    const anon = client()
    const anonSelect = await anon.from('vehicles').select('id')
    const anonInsert = await anon
      .from('vehicles')
      .insert({ vin: env.OTHER_VIN, make: 'Volvo', model: 'V70', model_year: 2019 })
    const memberForOther = await member
      .from('vehicles')
      .insert({ vin: env.OTHER_VIN, make: 'Volvo', model: 'V70', model_year: 2019, owner_id: managerId })
    const rowsOf = (r) => (r.data ?? []).map((v) => v.id)
    return {
      insert: { ...rest(inserted), owner_is_member: inserted.data?.owner_id === memberId },
      member: {
        ...rest(mine),
        count: mine.data?.length ?? null,
        only_own: (mine.data ?? []).every((v) => v.owner_id === memberId),
        sees_insert: rowsOf(mine).includes(inserted.data?.id),
      },
      manager: {
        ...rest(all),
        owners: new Set((all.data ?? []).map((v) => v.owner_id)).size,
        sees_all_of_member: rowsOf(mine).every((id) => rowsOf(all).includes(id)),
      },
      anon_select: { ...rest(anonSelect), data: anonSelect.data },
      anon_insert: rest(anonInsert),
      member_for_other: rest(memberForOther),
    }
  })
}

async function confirm() {
  const email = freshEmail('confirm')

  await step('sign_up_unconfirmed', async () => {
    const { data, error } = await client().auth.signUp({ email, password: PASSWORD })
    return {
      error: described(error),
      has_session: Boolean(data.session),
      email: data.user?.email ?? null,
      identities: data.user?.identities?.map((i) => i.provider) ?? null,
      confirmed: Boolean(data.user?.email_confirmed_at),
    }
  })

  await step('sign_in_unconfirmed', async () => {
    const { error } = await client().auth.signInWithPassword({ email, password: PASSWORD })
    return { error: described(error) }
  })

  await step('verify_otp_signup', async () => {
    const mail = await latestLink(email)
    const confirming = client()
    const seen = []
    confirming.auth.onAuthStateChange((event) => seen.push(event))
    const { data, error } = await confirming.auth.verifyOtp({ token_hash: mail.url.searchParams.get('token'), type: 'email' })
    return {
      subject: mail.subject,
      type: mail.url.searchParams.get('type'),
      error: described(error),
      has_session: Boolean(data.session?.access_token),
      confirmed: Boolean(data.user?.email_confirmed_at),
      events: seen,
    }
  })

  await step('sign_in_confirmed', async () => {
    const { data, error } = await client().auth.signInWithPassword({ email, password: PASSWORD })
    return { error: described(error), has_session: Boolean(data.session?.access_token) }
  })

  await step('sign_up_again', async () => {
    // Supabase hides that a confirmed address is taken: an obfuscated user, no identities.
    const { data, error } = await client().auth.signUp({ email, password: PASSWORD })
    return { error: described(error), has_session: Boolean(data.session), identities: data.user?.identities ?? null }
  })
}

const scenarios = { main, confirm }
const scenario = scenarios[process.argv[2]]
if (!scenario) {
  console.error(`usage: node supabase_js.mjs <${Object.keys(scenarios).join('|')}>`)
  process.exit(2)
}
await scenario()
emit({ done: true })
stdin.close()
