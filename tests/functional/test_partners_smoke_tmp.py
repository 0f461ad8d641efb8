from portal.db import db_session
from portal.partners.demo import load_partner_demo, load_account_mra_demo
from portal.companies.models import Company, TradeAccount
from portal.auth.models import User


def test_smoke(app, client, cast, login):
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        company = db_session.get(Company, cast.company_a.id)
        account = db_session.get(TradeAccount, cast.account_a.id)
        n = load_partner_demo(company, account, officer)
        assert n == 31
        ob = db_session.get(User, cast.users["officer_b"].id)
        load_account_mra_demo(db_session.get(TradeAccount, cast.account_b.id), ob)
        db_session.commit()
    r = client.get("/mra-programs"); assert r.status_code == 200, r.data
    login(cast.email("officer_a"))
    aid = cast.account_a.id
    for url in [f"/accounts/{aid}/partners", f"/accounts/{aid}/partners/summary", f"/accounts/{aid}/partners/new",
                f"/accounts/{aid}/partners/import", f"/accounts/{aid}/mra-certifications",
                f"/accounts/{aid}/partners/1", f"/accounts/{aid}/partners/1/edit", "/mra-programs/1"]:
        r = client.get(url)
        assert r.status_code == 200, (url, r.data[:3000])
    for url in [f"/accounts/{aid}/partners/export.csv", f"/accounts/{aid}/partners/export.xlsx",
                f"/accounts/{aid}/partners/template.xlsx", f"/accounts/{aid}/partners/template.csv"]:
        r = client.get(url); assert r.status_code == 200, url
    client.post("/auth/logout")
    login(cast.email("reviewer"))
    r = client.get(f"/accounts/{aid}/partners/supply-chain"); assert r.status_code == 200
    r = client.get(f"/accounts/{cast.account_b.id}/partners/supply-chain"); assert r.status_code == 200
    assert b"OEA-MX-2022-00317" in r.data
    pass


def test_dump(app, client, cast, login):
    import re
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        load_partner_demo(db_session.get(Company, cast.company_a.id), db_session.get(TradeAccount, cast.account_a.id), officer)
        db_session.commit()
    login(cast.email("officer_a"))
    html = client.get(f"/accounts/{cast.account_a.id}/partners/summary").data.decode()
    text = re.sub(r"<[^>]+>", " ", html[html.find("<main"):])
    print(re.sub(r"\s+", " ", text)[:3000])
    html = client.get(f"/accounts/{cast.account_a.id}/partners").data.decode()
    text = re.sub(r"<[^>]+>", " ", html[html.find("<table"):])
    print(re.sub(r"\s+", " ", text)[:6000])
