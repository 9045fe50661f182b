# The README's service walkthrough, as CI runs it (tests/service/test_walkthrough.py).
PORT=${PORT:-8000}
KEY=$(promptsim apps create shop --clock server | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
promptsim serve --port $PORT &                   # SQLite file data/promptsim.sqlite3
until curl -sf localhost:$PORT/healthz >/dev/null; do sleep 0.2; done
curl -s -o /dev/null -w '%{http_code}\n' -X PUT localhost:$PORT/v1/campaigns/soft \
     -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
     -d '{"trigger": {"type": "app_open"}, "frequency": {"type": "once"}}'          # 201
curl -s -o /dev/null -w '%{http_code}\n' -X POST localhost:$PORT/v1/devices \
     -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
     -d '{"device_id": "d1", "user_id": "u1", "platform": "ios", "os_version": "17.4.1"}'  # 201
curl -s -X POST localhost:$PORT/v1/devices/d1/eligibility \
     -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"trigger": "app_open"}'
# {"show":true,"reason":"eligible","campaign_id":"soft","action":"os_dialog"}
kill %1                                          # stop the server
