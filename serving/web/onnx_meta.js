// Reads an ONNX file's metadata_props (ModelProto field 14: repeated
// StringStringEntryProto {key = 1, value = 2}) straight from its protobuf bytes.
// onnxruntime-web does not expose custom metadata, and the page must show which
// published version it loaded, so it walks the top-level fields itself.

function readVarint(bytes, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= bytes.length) throw new Error("model.onnx: truncated varint");
    const byte = bytes[pos++];
    value += (byte & 0x7f) * scale;   // arithmetic, not <<: lengths may pass 2**31
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

// Yields [fieldNumber, wireType, payload] for each field of one message.
function* fields(bytes) {
  let pos = 0;
  while (pos < bytes.length) {
    let tag;
    [tag, pos] = readVarint(bytes, pos);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      let value;
      [value, pos] = readVarint(bytes, pos);
      yield [field, wire, value];
    } else if (wire === 2) {
      let length;
      [length, pos] = readVarint(bytes, pos);
      if (pos + length > bytes.length) throw new Error("model.onnx: truncated field");
      yield [field, wire, bytes.subarray(pos, pos + length)];
      pos += length;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
    } else {
      throw new Error(`model.onnx: unsupported protobuf wire type ${wire}`);
    }
  }
}

// Uint8Array of a whole .onnx file -> {key: value} of its metadata_props.
export function onnxMetadata(bytes) {
  const decoder = new TextDecoder();
  const props = {};
  for (const [field, wire, payload] of fields(bytes)) {
    if (field !== 14 || wire !== 2) continue;
    let key = "";
    let value = "";
    for (const [f, w, p] of fields(payload)) {
      if (w !== 2) continue;
      if (f === 1) key = decoder.decode(p);
      if (f === 2) value = decoder.decode(p);
    }
    props[key] = value;
  }
  return props;
}
