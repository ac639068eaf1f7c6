import { HoldfastError } from '../core/errors.js';

/**
 * Reads a line from the terminal without echo (raw mode), writing the
 * question to stderr. Backspace edits; Ctrl-C and Ctrl-D abort.
 *
 * Echo goes off before the question is shown: whatever is typed once the
 * question is visible (or pasted in answer to it) is never echoed.
 */
export function promptHidden(question: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    output.write(question);
    input.resume();
    let text = '';
    const done = (error?: Error) => {
      input.setRawMode(wasRaw);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new HoldfastError('interrupted', 'passphrase entry cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch >= ' ') text += ch;
      }
    };
    input.on('data', onData);
  });
}
