/**
 * A strict, minimal XML well-formedness parser for tests (no dependency): elements, attributes,
 * text, the five predefined entities and numeric references, an optional declaration. Throws on
 * anything malformed; returns the element tree.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.-]*/;

function decode(raw: string): string {
  if (/&(?!(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(raw)) throw new Error(`bad entity in ${JSON.stringify(raw.slice(0, 40))}`);
  if (raw.includes("<")) throw new Error("raw < in text or attribute");
  return raw.replace(/&(lt|gt|amp|quot|apos);/g, (_m, e: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" })[e]!);
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const rest = () => xml.slice(i);
  const skipSpace = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  if (xml.startsWith("<?xml")) {
    const end = xml.indexOf("?>");
    if (end < 0) throw new Error("unterminated declaration");
    i = end + 2;
  }
  skipSpace();
  const element = (): XmlElement => {
    if (xml[i] !== "<") throw new Error(`expected < at ${i}`);
    i++;
    const name = NAME.exec(rest())?.[0];
    if (!name) throw new Error(`bad element name at ${i}`);
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: "" };
    for (;;) {
      skipSpace();
      if (rest().startsWith("/>")) {
        i += 2;
        return el;
      }
      if (xml[i] === ">") {
        i++;
        break;
      }
      const attr = /^([A-Za-z_][\w.:-]*)="([^"]*)"/.exec(rest());
      if (!attr) throw new Error(`bad attribute at ${i}: ${rest().slice(0, 30)}`);
      if (attr[1]! in el.attrs) throw new Error(`duplicate attribute ${attr[1]}`);
      el.attrs[attr[1]!] = decode(attr[2]!);
      i += attr[0].length;
    }
    for (;;) {
      const lt = xml.indexOf("<", i);
      if (lt < 0) throw new Error(`unclosed <${name}>`);
      el.text += decode(xml.slice(i, lt));
      i = lt;
      if (rest().startsWith(`</`)) {
        const close = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(rest());
        if (close?.[1] !== name) throw new Error(`</${close?.[1]}> closes <${name}>`);
        i += close[0].length;
        return el;
      }
      el.children.push(element());
    }
  };
  const root = element();
  skipSpace();
  if (i !== xml.length) throw new Error("content after the root element");
  return root;
}

export function descendants(el: XmlElement, name: string): XmlElement[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...descendants(c, name)]);
}
