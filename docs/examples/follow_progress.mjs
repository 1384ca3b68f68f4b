// Follow one run on a Batchery server over its WebSocket, from its first event to its last.
//
//     BATCHERY_TOKEN=... node follow_progress.mjs http://127.0.0.1:8000 RUN_ID
//
// Node 22 has WebSocket built in; on Node 20 add --experimental-websocket.

const [url, runId] = process.argv.slice(2);
const feed = `${url.replace(/^http/, "ws")}/api/runs/${runId}/events?after_seq=0`;
const socket = new WebSocket(feed, {
  protocols: ["batchery.v1"],
  headers: { Authorization: `Bearer ${process.env.BATCHERY_TOKEN}` },
});

let last = 0;
socket.addEventListener("message", (message) => {
  const frame = JSON.parse(message.data);
  if (frame.type === "resync") {
    console.log(`fell behind: reconnect with after_seq=${frame.after_seq}`);
    return;
  }
  for (const event of frame.events) {
    if (event.seq !== last + 1) throw new Error(`missed events after seq ${last}`);
    last = event.seq;
    console.log(JSON.stringify(event));
  }
});
socket.addEventListener("close", (close) => {
  console.log(`closed ${close.code} ${close.reason}`);
  process.exitCode = close.code === 1000 ? 0 : 1;
});
