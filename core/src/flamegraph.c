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
 * fragment keeps the zoom and search (#zoom=<node>&search=<text>).
 *
 * The differential page is the same page with a second value per node (the
 * base profile's): frames are coloured by the change of their share of
 * their own profile's total (red grew, blue shrank, deeper by magnitude, as
 * flamegraph.pl's difffolded does), the tooltip gives both shares and the
 * change, a button swaps to the base profile's shape, and call paths only
 * the base has (zero wide in the new shape) are listed below the graph. */
#include "flamegraph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "json.h"

typedef struct fnode {
    uint32_t name;      /* string id in the tree's own table */
    int64_t value, base;/* the profile's (the new one's, in a diff); the base's */
    uint32_t first_child, next_sibling; /* index + 1, 0 = none */
} fnode;

/* The call tree, stacks merged from the root by frame name; names are
 * interned in the tree's own table so that two profiles merge. */
typedef struct ftree {
    fnode *nodes;
    size_t n, cap;
    pp_idmap children; /* (parent, name) -> node */
    pp_strtab names;
} ftree;

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
    "#gone{margin:8px 12px;color:#333}#gone a{display:block;color:#1a4fb4;white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis}\n.legend{color:#555}.legend b{padding:0 4px}\n"
    "#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:3px;"
    "display:none;max-width:60em;word-break:break-all;z-index:2}\n"
    "button{font:inherit}\n"
    "</style></head><body>\n";

static const char PAGE_SCRIPT[] =
    "<script>\n"
    "(function(){\n"
    "'use strict';\n"
    "const D=window.FLAME;const S=D.strings,N=D.nodes,n=N.length/3;\n"
    "// widths come from V: the profile's values, or in a diff the base's when its shape is shown\n"
    "const NV=new Float64Array(n);for(let i=0;i<n;i++)NV[i]=N[3*i+1];\n"
    "const B=D.base?Float64Array.from(D.base):null;let V=NV;\n"
    "const name=i=>S[N[3*i]],val=i=>V[i],dep=i=>N[3*i+2];\n"
    "// end[i]: one past the last node of i's subtree (children follow their parent)\n"
    "const end=new Int32Array(n),parent=new Int32Array(n);\n"
    "{const st=[];for(let i=0;i<n;i++){while(st.length&&dep(st[st.length-1])>=dep(i)){end[st.pop()]=i;}"
    "parent[i]=st.length?st[st.length-1]:-1;st.push(i);}while(st.length)end[st.pop()]=n;}\n"
    "let total=val(0)||1;\n"
    "// a diff compares each frame's share of its own profile's total\n"
    "const nt=NV[0]||1,bt=B?(B[0]||1):1;\n"
    "const share=i=>100*NV[i]/nt,bshare=i=>B?100*B[i]/bt:0,delta=i=>share(i)-bshare(i);\n"
    "let maxd=0;if(B)for(let i=0;i<n;i++)maxd=Math.max(maxd,Math.abs(delta(i)));\n"
    "const g=document.getElementById('graph'),tip=document.getElementById('tip'),"
    "status=document.getElementById('status'),search=document.getElementById('search'),"
    "shapeBtn=document.getElementById('shape');\n"
    "const ROW=17;let zoom=0,term='';\n"
    "function hue(s){let h=0;for(let k=0;k<s.length;k++)h=(h*31+s.charCodeAt(k))>>>0;return h;}\n"
    "const heat=i=>Math.min(1,Math.abs(delta(i))/(maxd||1));\n"
    "function diffColor(i){const d=delta(i);if(Math.abs(d)<1e-9)return'rgb(220,220,220)';"
    "const c=Math.round(220*(1-heat(i)));return d>0?`rgb(255,${c},${c})`:`rgb(${c},${c},255)`;}\n"
    "function color(i){if(B)return diffColor(i);const s=name(i);if(s.startsWith('['))return'#ccc';const h=hue(s);"
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
    "d.style.background=color(i);if(B&&heat(i)>0.5)d.style.color='#fff';d.textContent=w>=28?name(i):'';d.dataset.i=i;frag.appendChild(d);"
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
    "(zoom?`${name(zoom)}: ${fmt(val(zoom))}, ${(100*val(zoom)/total).toFixed(1)}% of all`:`${fmt(total)} in all`)+"
    "(B?(V===B?' (base shape)':' (new shape)'):'');}\n"
    "function setHash(){const h=[];if(zoom)h.push('zoom='+zoom);if(term)h.push('search='+encodeURIComponent(term));"
    "if(B&&V===B)h.push('shape=base');"
    "history.replaceState(null,'',h.length?'#'+h.join('&'):location.pathname+location.search);}\n"
    "function zoomTo(i){zoom=(i>=0&&i<n&&val(i)>0)?i:0;render();setHash();}\n"
    "function setShape(base){V=base&&B?B:NV;total=val(0)||1;"
    "if(shapeBtn)shapeBtn.textContent=V===B?'Show new shape':'Show base shape';}\n"
    "function tipText(i){if(!B)return`${name(i)}\\n${fmt(val(i))} \\u00b7 ${(100*val(i)/total).toFixed(2)}% of all"
    " \\u00b7 ${(100*val(i)/(val(zoom)||1)).toFixed(2)}% of the view`;\n"
    " const d=delta(i);return`${name(i)}\\nbase ${bshare(i).toFixed(2)}% \\u00b7 new ${share(i).toFixed(2)}% "
    "\\u00b7 ${d>=0?'+':''}${d.toFixed(2)} points`+(NV[i]===0?' (only in base)':B[i]===0?' (only in new)':'');}\n"
    "g.addEventListener('click',e=>{const d=e.target.closest('.f');if(!d)return;const i=+d.dataset.i;"
    "zoomTo(i===zoom?Math.max(parent[i],0):i);});\n"
    "g.addEventListener('mousemove',e=>{const d=e.target.closest('.f');if(!d){tip.style.display='none';return;}"
    "const i=+d.dataset.i;tip.textContent=tipText(i);tip.style.whiteSpace='pre-wrap';"
    "tip.style.display='block';tip.style.left=Math.min(e.clientX+12,innerWidth-320)+'px';"
    "tip.style.top=(e.clientY+14)+'px';});\n"
    "g.addEventListener('mouseleave',()=>tip.style.display='none');\n"
    "search.addEventListener('input',()=>{term=search.value.trim().toLowerCase();mark();setHash();});\n"
    "document.getElementById('reset').addEventListener('click',()=>{search.value='';term='';zoomTo(0);});\n"
    "if(shapeBtn)shapeBtn.addEventListener('click',()=>{setShape(V===NV);zoomTo(zoom);});\n"
    "addEventListener('keydown',e=>{if(e.key==='Escape')zoomTo(0);});\n"
    "addEventListener('resize',render);\n"
    "// call paths only the base has: no width in the new shape, so listed\n"
    "const gone=document.getElementById('gone');\n"
    "if(B&&gone){const rows=[];for(let i=1;i<n;i++)if(NV[i]===0&&B[i]>0&&NV[parent[i]]>0)rows.push(i);\n"
    " rows.sort((a,b)=>B[b]-B[a]);\n"
    " if(rows.length){const h=document.createElement('div');"
    "h.textContent=`Only in the base profile (${rows.length} call path${rows.length>1?'s':''}, not drawn in the new "
    "shape; click one to see it in the base shape):`;gone.appendChild(h);}\n"
    " for(const i of rows.slice(0,100)){const a=document.createElement('a');a.href='#';a.dataset.i=i;"
    "const path=[];for(let k=i;k>0;k=parent[k])path.push(name(k));"
    "a.textContent=`${bshare(i).toFixed(2)}% of base: ${path.reverse().join(' \\u2192 ')}`;"
    "a.addEventListener('click',e=>{e.preventDefault();setShape(true);zoomTo(i);});gone.appendChild(a);}}\n"
    "for(const kv of location.hash.slice(1).split('&')){const[k,v]=kv.split('=');if(k==='zoom')zoom=+v||0;"
    "if(k==='shape'&&v==='base')setShape(true);"
    "if(k==='search'&&v){term=decodeURIComponent(v).toLowerCase();search.value=term;}}\n"
    "if(!(zoom>=0&&zoom<n&&val(zoom)>0))zoom=0;render();\n"
    "})();\n"
    "</script>\n</body></html>\n";

static int tree_init(ftree *t)
{
    memset(t, 0, sizeof *t);
    pp_idmap_init(&t->children);
    t->cap = 256;
    t->n = 1;
    t->nodes = calloc(t->cap, sizeof *t->nodes);
    if (!t->nodes || pp_strtab_init(&t->names) != 0)
        return -1;
    t->nodes[0].name = pp_strtab_intern(&t->names, "all");
    return t->nodes[0].name == UINT32_MAX ? -1 : 0;
}

static void tree_free(ftree *t)
{
    free(t->nodes);
    pp_idmap_free(&t->children);
    pp_strtab_free(&t->names);
}

/* Adds value vi of p's samples to the nodes' value, or to base when is_base. */
static int tree_add(ftree *t, const pp_profile *p, uint32_t vi, int is_base)
{
    uint32_t *name_of = calloc((size_t)p->strings.count + 1, sizeof *name_of); /* profile id -> tree id + 1 */
    if (!name_of)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < p->n_samples; i++) {
        const pp_sample *s = &p->samples[i];
        int64_t v = s->values[vi];
        if (v <= 0)
            continue;
        uint32_t cur = 0;
        int64_t *root_v = is_base ? &t->nodes[0].base : &t->nodes[0].value;
        *root_v = pp_add_sat(*root_v, v);
        for (uint32_t d = s->n_frames; d-- > 0;) { /* root first */
            uint32_t sid = p->frames[p->stack[s->first_frame + d]].name;
            if (sid >= p->strings.count)
                sid = 0;
            if (!name_of[sid]) {
                uint32_t id = pp_strtab_intern(&t->names, pp_strtab_get(&p->strings, sid));
                if (id == UINT32_MAX)
                    goto out;
                name_of[sid] = id + 1;
            }
            uint32_t name = name_of[sid] - 1;
            uint32_t child = pp_idmap_get(&t->children, cur, name, 0);
            if (child == UINT32_MAX) {
                if (t->n == t->cap) {
                    fnode *grown = realloc(t->nodes, t->cap * 2 * sizeof *t->nodes);
                    if (!grown)
                        goto out;
                    t->nodes = grown;
                    t->cap *= 2;
                }
                child = (uint32_t)t->n++;
                memset(&t->nodes[child], 0, sizeof t->nodes[child]);
                t->nodes[child].name = name;
                t->nodes[child].next_sibling = t->nodes[cur].first_child;
                t->nodes[cur].first_child = child + 1;
                if (pp_idmap_put(&t->children, cur, name, 0, child) != 0)
                    goto out;
            }
            int64_t *child_v = is_base ? &t->nodes[child].base : &t->nodes[child].value;
            *child_v = pp_add_sat(*child_v, v);
            cur = child;
        }
    }
    rc = 0;
out:
    free(name_of);
    return rc;
}

/* Wider first: by value, then (for frames only the base has) by base. */
static int wider(const fnode *a, const fnode *b)
{
    return a->value != b->value ? a->value > b->value : a->base > b->base;
}

/* The page around the tree; diff adds the base values and the diff controls. */
static int write_page(const ftree *t, int diff, const char *type, const char *unit, pp_buf *out)
{
    size_t n = t->n;
    pp_buf_append_str(out, PAGE_HEAD);
    pp_buf_append_str(out, diff ? "<title>polyprof differential flame graph (" : "<title>polyprof flame graph (");
    html_text(out, type);
    pp_buf_append_str(out, ")</title>\n");
    pp_buf_append_str(out, PAGE_STYLE);
    pp_buf_append_str(out, diff ? "<header><h1>Differential flame graph: " : "<header><h1>Flame graph: ");
    html_text(out, type);
    pp_buf_append_str(out, "</h1><input id=\"search\" type=\"search\" placeholder=\"Search functions\" "
                           "aria-label=\"Search functions\"><button id=\"reset\">Reset zoom</button>");
    if (diff)
        pp_buf_append_str(out, "<button id=\"shape\">Show base shape</button><span class=\"legend\">share of each "
                               "profile's total: <b style=\"background:#f66\">grew</b><b style=\"background:#66f;"
                               "color:#fff\">shrank</b></span>");
    pp_buf_append_str(out, "<span id=\"status\"></span></header>\n<div id=\"graph\"></div>");
    if (diff)
        pp_buf_append_str(out, "<div id=\"gone\"></div>");
    pp_buf_append_str(out, "<div id=\"tip\"></div>\n");

    pp_buf_append_str(out, "<script>window.FLAME={\"unit\":");
    pp_json_script_string(out, unit);
    pp_buf_append_str(out, ",\"type\":");
    pp_json_script_string(out, type);
    /* Nodes depth first, children widest first; strings numbered in the
     * order the nodes first use them. */
    pp_buf nodes_json, base_json, strings_json;
    pp_buf_init(&nodes_json);
    pp_buf_init(&base_json);
    pp_buf_init(&strings_json);
    nodes_json.limit = base_json.limit = strings_json.limit = out->limit;
    uint32_t *stack = malloc(n * sizeof *stack), *depth = malloc(n * sizeof *depth);
    uint32_t *kids = malloc(n * sizeof *kids), *sid = malloc(t->names.count * sizeof *sid);
    uint32_t n_strings = 0;
    int failed = !stack || !depth || !kids || !sid;
    if (sid)
        memset(sid, 0xff, t->names.count * sizeof *sid);
    size_t top = 0;
    if (!failed) {
        stack[top] = 0;
        depth[top++] = 0;
    }
    int first = 1;
    while (top) {
        top--;
        uint32_t i = stack[top], d = depth[top];
        const fnode *nd = &t->nodes[i];
        if (sid[nd->name] == UINT32_MAX) {
            sid[nd->name] = n_strings++;
            if (n_strings > 1)
                pp_buf_append_byte(&strings_json, ',');
            pp_json_script_string(&strings_json, t->names.strs[nd->name]);
        }
        pp_buf_printf(&nodes_json, "%s%u,%" PRId64 ",%u", first ? "" : ",", sid[nd->name], nd->value, d);
        if (diff)
            pp_buf_printf(&base_json, "%s%" PRId64, first ? "" : ",", nd->base);
        first = 0;
        /* Push children so that the widest pops first. */
        size_t nk = 0;
        for (uint32_t c = nd->first_child; c; c = t->nodes[c - 1].next_sibling)
            kids[nk++] = c - 1;
        for (size_t a = 1; a < nk; a++) { /* insertion sort, narrowest first */
            uint32_t k = kids[a];
            size_t b = a;
            while (b > 0 && wider(&t->nodes[kids[b - 1]], &t->nodes[k])) {
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
    pp_buf_append_str(out, ",\"strings\":[");
    pp_buf_append(out, strings_json.data, strings_json.len);
    pp_buf_append_str(out, "],\"nodes\":[");
    pp_buf_append(out, nodes_json.data, nodes_json.len);
    pp_buf_append_byte(out, ']');
    if (diff) {
        pp_buf_append_str(out, ",\"base\":[");
        pp_buf_append(out, base_json.data, base_json.len);
        pp_buf_append_byte(out, ']');
    }
    failed |= base_json.failed || nodes_json.failed || strings_json.failed;
    if (base_json.over_limit || nodes_json.over_limit || strings_json.over_limit)
        out->failed = out->over_limit = 1; /* so the caller names the limit */
    pp_buf_free(&base_json);
    pp_buf_free(&nodes_json);
    pp_buf_free(&strings_json);
    pp_buf_append_str(out, "};</script>\n");
    pp_buf_append_str(out, PAGE_SCRIPT);
    return failed || out->failed ? -1 : 0;
}

int pp_flamegraph_write(const pp_profile *p, int value_index, pp_buf *out, char *err, size_t errlen)
{
    uint32_t vi;
    if (pp_profile_pick_value(p, value_index, "flamegraph", &vi, err, errlen) != 0)
        return -1;
    ftree t;
    int rc = tree_init(&t) == 0 && tree_add(&t, p, vi, 0) == 0 ? 0 : -1;
    if (rc == 0)
        rc = write_page(&t, 0, pp_strtab_get(&p->strings, p->value_types[vi].type),
                        pp_strtab_get(&p->strings, p->value_types[vi].unit), out);
    tree_free(&t);
    if (rc != 0)
        snprintf(err, errlen, "flamegraph: out of memory");
    return rc;
}

int pp_flamegraph_write_diff(const pp_profile *base, uint32_t base_vi, const pp_profile *cur, uint32_t cur_vi,
                             pp_buf *out, char *err, size_t errlen)
{
    ftree t;
    int rc = tree_init(&t) == 0 && tree_add(&t, cur, cur_vi, 0) == 0 && tree_add(&t, base, base_vi, 1) == 0 ? 0 : -1;
    if (rc == 0)
        rc = write_page(&t, 1, pp_strtab_get(&cur->strings, cur->value_types[cur_vi].type),
                        pp_strtab_get(&cur->strings, cur->value_types[cur_vi].unit), out);
    tree_free(&t);
    if (rc != 0)
        snprintf(err, errlen, "diff: out of memory");
    return rc;
}
