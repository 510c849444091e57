/* The flame graph writer: the profile's call tree (stacks merged from the
 * root) as data inside one HTML page whose script draws it. Everything is
 * inline, so the file opens anywhere, offline, and can be mailed around.
 *
 * Data: a string table and, per node in depth-first order, [name, value,
 * depth]; a node's children follow it. The page lays out widths from values
 * and renders frames as absolutely positioned <div>s (found by tests and
 * by the browser's own search). Interactions: click zooms to a frame, the
 * root (or Escape) zooms out, the search box highlights matching frames and
 * says what share they hold, hovering shows value and percentages; the URL
 * fragment keeps the zoom and search (#zoom=<node>&search=<text>). */
#include "flamegraph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

typedef struct fnode {
    uint32_t name;      /* string id in the profile */
    int64_t value;
    uint32_t first_child, next_sibling; /* index + 1, 0 = none */
} fnode;

/* JSON string, safe inside <script>: "</" never appears as such. */
static void js_string(pp_buf *b, const char *s)
{
    pp_buf_append_byte(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            pp_buf_append_byte(b, '\\');
            pp_buf_append_byte(b, c);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            pp_buf_printf(b, "\\u%04x", c);
        } else {
            pp_buf_append_byte(b, c);
        }
    }
    pp_buf_append_byte(b, '"');
}

/* HTML text (the title). */
static void html_text(pp_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': pp_buf_append_str(b, "&lt;"); break;
        case '>': pp_buf_append_str(b, "&gt;"); break;
        case '&': pp_buf_append_str(b, "&amp;"); break;
        case '"': pp_buf_append_str(b, "&quot;"); break;
        default: pp_buf_append_byte(b, (uint8_t)*s);
        }
    }
}

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";

static const char PAGE_STYLE[] =
    "<style>\n"
    "body{margin:0;font:12px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;background:#fff;color:#222}\n"
    "header{display:flex;gap:12px;align-items:center;padding:8px 12px;border-bottom:1px solid #ddd;flex-wrap:wrap}\n"
    "header h1{font-size:14px;margin:0;font-weight:600}\n"
    "#search{width:16em;padding:3px 6px}\n#status{color:#555}\n"
    "#graph{position:relative;margin:8px 12px;overflow:hidden}\n"
    ".f{position:absolute;height:17px;box-sizing:border-box;border:1px solid #fff;overflow:hidden;"
    "white-space:nowrap;text-overflow:ellipsis;padding:0 3px;cursor:pointer;font:11px/15px ui-monospace,"
    "SFMono-Regular,Menlo,monospace;color:#111}\n"
    ".f:hover{border-color:#333}\n.f.match{background:#e040fb !important;color:#fff}\n"
    ".f.dim{opacity:.45}\n"
    "#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:3px;"
    "display:none;max-width:60em;word-break:break-all;z-index:2}\n"
    "button{font:inherit}\n"
    "</style></head><body>\n";

static const char PAGE_SCRIPT[] =
    "<script>\n"
    "(function(){\n"
    "'use strict';\n"
    "const D=window.FLAME;const S=D.strings,N=D.nodes,n=N.length/3;\n"
    "const name=i=>S[N[3*i]],val=i=>N[3*i+1],dep=i=>N[3*i+2];\n"
    "// end[i]: one past the last node of i's subtree (children follow their parent)\n"
    "const end=new Int32Array(n),parent=new Int32Array(n);\n"
    "{const st=[];for(let i=0;i<n;i++){while(st.length&&dep(st[st.length-1])>=dep(i)){end[st.pop()]=i;}"
    "parent[i]=st.length?st[st.length-1]:-1;st.push(i);}while(st.length)end[st.pop()]=n;}\n"
    "const total=val(0)||1;\n"
    "const g=document.getElementById('graph'),tip=document.getElementById('tip'),"
    "status=document.getElementById('status'),search=document.getElementById('search');\n"
    "const ROW=17;let zoom=0,term='';\n"
    "function hue(s){let h=0;for(let k=0;k<s.length;k++)h=(h*31+s.charCodeAt(k))>>>0;return h;}\n"
    "function color(i){const s=name(i);if(s.startsWith('['))return'#ccc';const h=hue(s);"
    "return`hsl(${(h%40)+10},${70+(h>>8)%25}%,${58+(h>>16)%14}%)`;}\n"
    "function fmt(v){return D.unit==='nanoseconds'?(v>=1e9?(v/1e9).toFixed(2)+' s':(v/1e6).toFixed(2)+' ms'):"
    "(D.unit==='bytes'?(v>=1048576?(v/1048576).toFixed(1)+' MiB':(v/1024).toFixed(1)+' KiB'):String(v));}\n"
    "function render(){\n"
    " g.textContent='';const W=g.clientWidth||document.documentElement.clientWidth-24;\n"
    " const zv=val(zoom)||1,zd=dep(zoom);let maxd=0;const frag=document.createDocumentFragment();\n"
    " // ancestors of the zoomed frame, full width, dimmed\n"
    " const anc=[];for(let a=parent[zoom];a>=0;a=parent[a])anc.push(a);anc.reverse();\n"
    " const rowsAbove=anc.length;\n"
    " function box(i,x,w,row,dim){const d=document.createElement('div');d.className='f'+(dim?' dim':'');"
    "d.style.left=x+'px';d.style.width=Math.max(w,1)+'px';d.style.top=row*ROW+'px';"
    "d.style.background=color(i);d.textContent=w>=28?name(i):'';d.dataset.i=i;frag.appendChild(d);"
    "if(row>maxd)maxd=row;}\n"
    " anc.forEach((a,k)=>box(a,0,W,k,true));\n"
    " // the zoomed subtree: x offsets from the values\n"
    " const x=new Float64Array(n);x[zoom]=0;const next=new Float64Array(n);next[zoom]=0;\n"
    " for(let i=zoom;i<end[zoom];i++){if(i!==zoom){const p=parent[i];x[i]=next[p];next[p]+=val(i)*W/zv;}"
    "next[i]=x[i];const w=val(i)*W/zv;if(w<0.5){i=end[i]-1;continue;}"
    "box(i,x[i],w,rowsAbove+dep(i)-zd,false);}\n"
    " g.style.height=(maxd+1)*ROW+'px';g.appendChild(frag);mark();}\n"
    "function mark(){let hit=0;\n"
    " for(const d of g.children){const i=+d.dataset.i;const m=term&&name(i).toLowerCase().includes(term);"
    "d.classList.toggle('match',!!m);}\n"
    " if(term){for(let i=zoom;i<end[zoom];i++){if(name(i).toLowerCase().includes(term)){hit+=val(i);"
    "i=end[i]-1;}}}\n"
    " status.textContent=(term?`\\u201c${term}\\u201d: ${(100*hit/(val(zoom)||1)).toFixed(1)}% of `:'')+"
    "(zoom?`${name(zoom)}: ${fmt(val(zoom))}, ${(100*val(zoom)/total).toFixed(1)}% of all`:`${fmt(total)} in all`);}\n"
    "function setHash(){const h=[];if(zoom)h.push('zoom='+zoom);if(term)h.push('search='+encodeURIComponent(term));"
    "history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname+location.search);}\n"
    "function zoomTo(i){zoom=(i>=0&&i<n)?i:0;render();setHash();}\n"
    "g.addEventListener('click',e=>{const d=e.target.closest('.f');if(!d)return;const i=+d.dataset.i;"
    "zoomTo(i===zoom?Math.max(parent[i],0):i);});\n"
    "g.addEventListener('mousemove',e=>{const d=e.target.closest('.f');if(!d){tip.style.display='none';return;}"
    "const i=+d.dataset.i;tip.textContent=`${name(i)}\\n${fmt(val(i))} \\u00b7 ${(100*val(i)/total).toFixed(2)}% of all"
    " \\u00b7 ${(100*val(i)/(val(zoom)||1)).toFixed(2)}% of the view`;tip.style.whiteSpace='pre-wrap';"
    "tip.style.display='block';tip.style.left=Math.min(e.clientX+12,innerWidth-320)+'px';"
    "tip.style.top=(e.clientY+14)+'px';});\n"
    "g.addEventListener('mouseleave',()=>tip.style.display='none');\n"
    "search.addEventListener('input',()=>{term=search.value.trim().toLowerCase();mark();setHash();});\n"
    "document.getElementById('reset').addEventListener('click',()=>{search.value='';term='';zoomTo(0);});\n"
    "addEventListener('keydown',e=>{if(e.key==='Escape')zoomTo(0);});\n"
    "addEventListener('resize',render);\n"
    "for(const kv of location.hash.slice(1).split('&')){const[k,v]=kv.split('=');if(k==='zoom')zoom=+v||0;"
    "if(k==='search'&&v){term=decodeURIComponent(v).toLowerCase();search.value=term;}}\n"
    "if(!(zoom>=0&&zoom<n))zoom=0;render();\n"
    "})();\n"
    "</script>\n</body></html>\n";

int pp_flamegraph_write(const pp_profile *p, int value_index, pp_buf *out, char *err, size_t errlen)
{
    uint32_t vi;
    if (pp_profile_pick_value(p, value_index, "flamegraph", &vi, err, errlen) != 0)
        return -1;
    size_t cap = 256, n = 1;
    fnode *nodes = calloc(cap, sizeof *nodes);
    pp_idmap children; /* (parent, name) -> node: frames of the same name merge */
    pp_idmap_init(&children);
    if (!nodes)
        goto oom;
    nodes[0].name = UINT32_MAX; /* the root, named "all" */
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        int64_t v = s->values[vi];
        if (v <= 0)
            continue;
        uint32_t cur = 0;
        nodes[0].value += v;
        for (uint32_t d = s->n_frames; d-- > 0;) { /* root first */
            uint32_t name = p->frames[p->stack[s->first_frame + d]].name;
            uint32_t child = pp_idmap_get(&children, cur, name, 0);
            if (child == UINT32_MAX) {
                if (n == cap) {
                    fnode *grown = realloc(nodes, cap * 2 * sizeof *nodes);
                    if (!grown)
                        goto oom;
                    nodes = grown;
                    cap *= 2;
                }
                child = (uint32_t)n++;
                memset(&nodes[child], 0, sizeof nodes[child]);
                nodes[child].name = name;
                nodes[child].next_sibling = nodes[cur].first_child;
                nodes[cur].first_child = child + 1;
                if (pp_idmap_put(&children, cur, name, 0, child) != 0)
                    goto oom;
            }
            nodes[child].value += v;
            cur = child;
        }
    }

    /* Strings used, renumbered densely. */
    /* The last slot stands for the root's name. */
    size_t n_sid = (size_t)p->strings.count + 1;
    uint32_t *sid = malloc(n_sid * sizeof *sid);
    if (!sid)
        goto oom;
    memset(sid, 0xff, n_sid * sizeof *sid);
    uint32_t n_strings = 0;

    const char *type = pp_strtab_get(&p->strings, p->value_types[vi].type);
    const char *unit = pp_strtab_get(&p->strings, p->value_types[vi].unit);
    pp_buf_append_str(out, PAGE_HEAD);
    pp_buf_append_str(out, "<title>polyprof flame graph (");
    html_text(out, type);
    pp_buf_append_str(out, ")</title>\n");
    pp_buf_append_str(out, PAGE_STYLE);
    pp_buf_append_str(out, "<header><h1>Flame graph: ");
    html_text(out, type);
    pp_buf_append_str(out, "</h1><input id=\"search\" type=\"search\" placeholder=\"Search functions\" "
                           "aria-label=\"Search functions\"><button id=\"reset\">Reset zoom</button>"
                           "<span id=\"status\"></span></header>\n<div id=\"graph\"></div><div id=\"tip\"></div>\n");

    /* Nodes depth first, children by descending value (the widest left). */
    pp_buf nodes_json;
    pp_buf_init(&nodes_json);
    pp_buf strings_json;
    pp_buf_init(&strings_json);
    uint32_t *stack = malloc(n * sizeof *stack), *depth = malloc(n * sizeof *depth);
    uint32_t *kids = malloc(n * sizeof *kids);
    if (!stack || !depth || !kids) {
        free(stack);
        free(depth);
        free(kids);
        free(sid);
        pp_buf_free(&nodes_json);
        pp_buf_free(&strings_json);
        goto oom;
    }
    size_t top = 0;
    stack[top] = 0;
    depth[top++] = 0;
    int first = 1;
    while (top) {
        top--;
        uint32_t i = stack[top], d = depth[top];
        size_t name = nodes[i].name == UINT32_MAX ? n_sid - 1 : nodes[i].name;
        if (sid[name] == UINT32_MAX) {
            sid[name] = n_strings++;
            if (n_strings > 1)
                pp_buf_append_byte(&strings_json, ',');
            js_string(&strings_json, name == n_sid - 1 ? "all" : pp_strtab_get(&p->strings, (uint32_t)name));
        }
        pp_buf_printf(&nodes_json, "%s%u,%" PRId64 ",%u", first ? "" : ",", sid[name], nodes[i].value, d);
        first = 0;
        /* Push children so that the widest pops first. */
        size_t nk = 0;
        for (uint32_t c = nodes[i].first_child; c; c = nodes[c - 1].next_sibling)
            kids[nk++] = c - 1;
        for (size_t a = 1; a < nk; a++) { /* insertion sort by value, ascending */
            uint32_t k = kids[a];
            size_t b = a;
            while (b > 0 && nodes[kids[b - 1]].value > nodes[k].value) {
                kids[b] = kids[b - 1];
                b--;
            }
            kids[b] = k;
        }
        for (size_t a = 0; a < nk; a++) {
            stack[top] = kids[a];
            depth[top++] = d + 1;
        }
    }
    free(stack);
    free(depth);
    free(kids);
    free(sid);
    pp_buf_append_str(out, "<script>window.FLAME={\"unit\":");
    js_string(out, unit);
    pp_buf_append_str(out, ",\"type\":");
    js_string(out, type);
    pp_buf_append_str(out, ",\"strings\":[");
    pp_buf_append(out, strings_json.data, strings_json.len);
    pp_buf_append_str(out, "],\"nodes\":[");
    pp_buf_append(out, nodes_json.data, nodes_json.len);
    pp_buf_append_str(out, "]};</script>\n");
    int failed = strings_json.failed || nodes_json.failed;
    pp_buf_free(&nodes_json);
    pp_buf_free(&strings_json);
    pp_buf_append_str(out, PAGE_SCRIPT);
    free(nodes);
    pp_idmap_free(&children);
    if (failed)
        goto oom_freed;
    return 0;
oom:
    free(nodes);
    pp_idmap_free(&children);
oom_freed:
    snprintf(err, errlen, "flamegraph: out of memory");
    return -1;
}
