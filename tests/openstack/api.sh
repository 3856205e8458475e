# shellcheck shell=bash disable=SC2034 # the OS_* endpoints are for the scripts that source this file
# tests/openstack/api.sh — the harness cloud's REST APIs from bash, with curl and jq only.
#
#     . tests/openstack/api.sh
#     tok=$(os_token demo demo demo)                       # USER PASSWORD PROJECT (domain Default)
#     net=$(os_api "$tok" POST "$OS_NEUTRON/networks" '{"network": {"name": "n1"}}' | jq -r .network.id)
#     os_api "$tok" DELETE "$OS_NEUTRON/networks/$net"
#
# No `openstack` CLI: each of its calls costs 2-5 s of Python start-up, a curl call a few milliseconds.
# Every endpoint is on 127.0.0.1 (tests/openstack/harness.sh); tests/openstack/selftest.sh shows the calls a tool
# makes (networks, router, security group, key pair, servers on chosen hosts, floating IPs, deletion).

OS_KEYSTONE=http://127.0.0.1:5000/v3
OS_NOVA=http://127.0.0.1:8774/v2.1
OS_NEUTRON=http://127.0.0.1:9696/v2.0
OS_GLANCE=http://127.0.0.1:9292/v2
OS_PLACEMENT=http://127.0.0.1:8778
# Nova microversion sent with every call (the other services ignore it): Zed serves 2.1-2.93.
OS_COMPUTE_API=${OS_COMPUTE_API:-2.79}

# os_token USER PASSWORD PROJECT : prints a token scoped to PROJECT (users and projects in domain Default).
os_token()
{
    local body hdrs tok
    body=$(jq -nc --arg u "$1" --arg p "$2" --arg pr "$3" '{auth: {
        identity: {methods: ["password"], password: {user: {name: $u, domain: {id: "default"}, password: $p}}},
        scope: {project: {name: $pr, domain: {id: "default"}}}}}') || return 1
    hdrs=$(curl -sS -o /dev/null -D - --max-time 60 -H 'Content-Type: application/json' --data-binary "$body" \
        "$OS_KEYSTONE/auth/tokens") || { echo "os_token: keystone unreachable" >&2; return 1; }
    tok=$(printf '%s\n' "$hdrs" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-subject-token" { print $2 }')
    if [[ -z $tok ]]; then
        printf 'os_token: no token for %s in project %s (%s)\n' "$1" "$3" "$(head -n 1 <<<"$hdrs" | tr -d '\r')" >&2
        return 1
    fi
    printf '%s\n' "$tok"
}

# os_api TOKEN METHOD URL [JSON] : one REST call; prints the response body. Returns 1 with the method, URL, HTTP
# status and body on stderr unless the status is 2xx.
os_api()
{
    local tok=$1 method=$2 url=$3 data=${4-} out code
    local -a args=(-sS --max-time 120 -X "$method" -H "X-Auth-Token: $tok" -H 'Accept: application/json'
        -H "OpenStack-API-Version: compute $OS_COMPUTE_API" -w '\n%{http_code}')
    [[ -z $data ]] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
    out=$(curl "${args[@]}" "$url") || { printf 'os_api: %s %s: curl failed\n' "$method" "$url" >&2; return 1; }
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    if [[ ! $code =~ ^2[0-9][0-9]$ ]]; then
        printf 'os_api: %s %s: HTTP %s: %s\n' "$method" "$url" "$code" "${out:0:600}" >&2
        return 1
    fi
    [[ -z $out ]] || printf '%s\n' "$out"
}

# os_upload TOKEN URL FILE : PUTs FILE as application/octet-stream (Glance image data). Returns 1 unless 2xx.
os_upload()
{
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 120 -X PUT -H "X-Auth-Token: $1" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$3" "$2") || code=000
    [[ $code =~ ^2[0-9][0-9]$ ]] || { printf 'os_upload: PUT %s: HTTP %s\n' "$2" "$code" >&2; return 1; }
}

# os_id TOKEN URL COLLECTION NAME : prints the id of the one item of COLLECTION (e.g. networks) at URL named NAME;
# returns 1 if there is none or more than one.
os_id()
{
    local ids
    ids=$(os_api "$1" GET "$2" | jq -r --arg n "$4" --arg c "$3" '.[$c][] | select(.name == $n) | .id') || return 1
    if [[ -z $ids || $ids == *$'\n'* ]]; then
        printf 'os_id: %s named %s: %s\n' "$3" "$4" "${ids:-none}" >&2
        return 1
    fi
    printf '%s\n' "$ids"
}

# os_wait TIMEOUT_S DESC CMD... : runs CMD every 0.5 s until it succeeds; returns 1 with "timeout: DESC" on stderr
# after TIMEOUT_S seconds.
os_wait()
{
    local limit=$1 desc=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            printf 'timeout after %s s: %s\n' "$limit" "$desc" >&2
            return 1
        fi
        sleep 0.5
    done
}
