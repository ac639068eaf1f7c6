/**
 * Email notifications through SMTP (nodemailer), on the same events as the
 * webhook. The password comes from HOLDFAST_SMTP_PASSWORD[_FILE], never from
 * holdfast.yml. Like every notification, a mail that cannot be sent is
 * reported to the caller (which logs it) and never fails a job.
 */
import { readFileSync } from 'node:fs';
import { HoldfastError } from '../core/errors.js';
import type { DeliveryResult } from './notify-http.js';

export interface EmailSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  from: string;
  to: string[];
  username?: string;
  timeoutMs: number;
  retries: number;
}

export interface EmailMessage {
  subject: string;
  text: string;
}

function smtpPassword(): string | undefined {
  const file = process.env.HOLDFAST_SMTP_PASSWORD_FILE;
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      throw new HoldfastError('config', `cannot read HOLDFAST_SMTP_PASSWORD_FILE ${file}`, { hint: 'check the path and its permissions', cause });
    }
  }
  return process.env.HOLDFAST_SMTP_PASSWORD || undefined;
}

function describeSmtpFailure(error: unknown): string {
  const e = error as Error & { code?: string; responseCode?: number };
  if (e.code === 'ESOCKET' && /ECONNREFUSED/.test(e.message)) return 'connection refused';
  if (e.code === 'ETIMEDOUT' || e.code === 'ETIMEOUT' || /timeout/i.test(e.message)) return 'timed out';
  if (e.code === 'EAUTH') return `authentication failed (${e.message})`;
  return e.responseCode ? `the server answered ${e.responseCode}: ${e.message}` : e.message;
}

export async function sendEmail(settings: EmailSettings, message: EmailMessage): Promise<DeliveryResult> {
  const password = smtpPassword();
  // Loaded on the first mail only: an idle serve without email need not carry it.
  const { createTransport } = await import('nodemailer');
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    ...(settings.username ? { auth: { user: settings.username, pass: password ?? '' } } : {}),
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  });
  let error = '';
  try {
    for (let attempt = 1; attempt <= settings.retries + 1; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 2)));
      try {
        await transport.sendMail({ from: settings.from, to: settings.to, subject: message.subject, text: message.text });
        return { ok: true, attempts: attempt };
      } catch (e) {
        error = describeSmtpFailure(e);
        // A refused recipient or a failed login will not pass on a retry.
        if ((e as { code?: string }).code === 'EAUTH' || (e as { code?: string }).code === 'EENVELOPE') return { ok: false, attempts: attempt, error };
      }
    }
  } finally {
    transport.close();
  }
  return { ok: false, attempts: settings.retries + 1, error };
}
