//! What the demo orders: a mix like a morning at the counter. Most orders are one to three
//! lines of drinks and food; some are large enough to need a manager (who approves most and
//! rejects the rest); some are cancelled by the customer right after placing; a few come from
//! a loyalty member whose card is declined (when the shop lists `DECLINED_MEMBER` in its
//! `decline_members` variable).

use serde_json::{json, Value};

/// The loyalty member the demo's declined orders come from: start the shop with
/// `--variable decline_members=00000000-0000-4000-8000-00000000dec1` to see declines.
pub const DECLINED_MEMBER: &str = "00000000-0000-4000-8000-00000000dec1";

/// A line's quantity may not exceed this (the shop's limit).
const MAX_QUANTITY: u32 = 20;

/// A small, seeded generator (xorshift64*): a run is repeatable with `--seed`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.draw() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What will happen to an order, decided when it is made up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Made, READY, picked up.
    Plain,
    /// Reaches the approval threshold: a manager approves (or rejects) it.
    Large { approve: bool },
    /// The customer cancels it right after placing.
    Cancel,
    /// Paid with the declined member's card.
    Declined,
}

impl Plan {
    pub fn pick(rng: &mut Rng) -> Plan {
        match rng.below(100) {
            0..=77 => Plan::Plain,
            78..=87 => Plan::Large {
                approve: rng.chance(70),
            },
            88..=94 => Plan::Cancel,
            _ => Plan::Declined,
        }
    }
}

/// One item of the shop's catalog (`GET /v1/api/item-types`).
#[derive(Debug, Clone)]
pub struct Item {
    pub item_type: u64,
    pub price_cents: u64,
}

/// The catalog split by station, and the approval threshold (`GET /v1/api/settings`).
pub struct Menu {
    pub drinks: Vec<Item>,
    pub food: Vec<Item>,
    pub threshold_cents: u64,
}

impl Menu {
    pub fn from_catalog(catalog: &Value, threshold_cents: u64) -> Option<Menu> {
        let mut menu = Menu {
            drinks: Vec::new(),
            food: Vec::new(),
            threshold_cents,
        };
        for entry in catalog.as_array()? {
            let item = Item {
                item_type: entry["itemType"].as_u64()?,
                price_cents: entry["priceCents"].as_u64()?,
            };
            match entry["station"].as_str()? {
                "barista" => menu.drinks.push(item),
                _ => menu.food.push(item),
            }
        }
        (!menu.drinks.is_empty() && !menu.food.is_empty()).then_some(menu)
    }

    /// The body of `POST /v1/api/orders` for `plan`.
    pub fn order(&self, plan: Plan, rng: &mut Rng) -> Value {
        let (drinks, food) = match plan {
            Plan::Large { .. } => (self.large_order(rng), Vec::new()),
            _ => self.everyday_order(rng),
        };
        let member = match plan {
            Plan::Declined => DECLINED_MEMBER.to_owned(),
            _ => member_id(rng),
        };
        json!({
            "commandType": 0,
            "orderSource": rng.below(2),
            "location": rng.below(3),
            "loyaltyMemberId": member,
            "baristaItems": drinks,
            "kitchenItems": food,
        })
    }

    /// One to three lines, mostly drinks, one or two of each.
    fn everyday_order(&self, rng: &mut Rng) -> (Vec<Value>, Vec<Value>) {
        let mut drinks = vec![line(pick(&self.drinks, rng), 1 + rng.below(2))];
        let mut food = Vec::new();
        for _ in 0..rng.below(3) {
            if rng.chance(50) {
                food.push(line(pick(&self.food, rng), 1 + rng.below(2)));
            } else {
                drinks.push(line(pick(&self.drinks, rng), 1));
            }
        }
        (drinks, food)
    }

    /// Drinks for an office: lines of one drink each until the total reaches the threshold.
    fn large_order(&self, rng: &mut Rng) -> Vec<Value> {
        let mut lines = Vec::new();
        let mut total = 0;
        while total < self.threshold_cents.max(1) && lines.len() < self.drinks.len() {
            let item = &self.drinks
                [(rng.below(self.drinks.len() as u64) as usize + lines.len()) % self.drinks.len()];
            let wanted = (self.threshold_cents - total).div_ceil(item.price_cents.max(1));
            let quantity = wanted.clamp(1, u64::from(MAX_QUANTITY));
            total += quantity * item.price_cents;
            lines.push(line(item, quantity));
        }
        lines
    }
}

fn pick<'a>(items: &'a [Item], rng: &mut Rng) -> &'a Item {
    &items[rng.below(items.len() as u64) as usize]
}

fn line(item: &Item, quantity: u64) -> Value {
    json!({ "itemType": item.item_type, "quantity": quantity })
}

/// A random version-4 UUID: a new loyalty member per order.
fn member_id(rng: &mut Rng) -> String {
    let (a, b) = (rng.draw(), rng.draw());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Menu {
        let catalog = json!([
            { "itemType": 0, "priceCents": 450, "station": "barista" },
            { "itemType": 1, "priceCents": 300, "station": "barista" },
            { "itemType": 6, "priceCents": 250, "station": "kitchen" },
        ]);
        Menu::from_catalog(&catalog, 10_000).unwrap()
    }

    fn total(order: &Value, menu: &Menu) -> u64 {
        let price = |t: u64| {
            menu.drinks
                .iter()
                .chain(&menu.food)
                .find(|i| i.item_type == t)
                .unwrap()
                .price_cents
        };
        ["baristaItems", "kitchenItems"]
            .iter()
            .flat_map(|k| order[*k].as_array().unwrap().clone())
            .map(|l| price(l["itemType"].as_u64().unwrap()) * l["quantity"].as_u64().unwrap())
            .sum()
    }

    #[test]
    fn a_large_order_reaches_the_threshold_within_the_quantity_limit() {
        let menu = menu();
        let mut rng = Rng::new(7);
        for _ in 0..50 {
            let order = menu.order(Plan::Large { approve: true }, &mut rng);
            assert!(total(&order, &menu) >= 10_000, "{order}");
            for line in order["baristaItems"].as_array().unwrap() {
                assert!(line["quantity"].as_u64().unwrap() <= 20, "{order}");
            }
        }
    }

    #[test]
    fn an_everyday_order_stays_under_the_threshold_and_declines_use_the_declined_member() {
        let menu = menu();
        let mut rng = Rng::new(11);
        for _ in 0..200 {
            let order = menu.order(Plan::Plain, &mut rng);
            assert!(total(&order, &menu) < 10_000, "{order}");
            assert_ne!(order["loyaltyMemberId"], DECLINED_MEMBER);
        }
        let declined = menu.order(Plan::Declined, &mut rng);
        assert_eq!(declined["loyaltyMemberId"], DECLINED_MEMBER);
    }

    #[test]
    fn member_ids_are_version_4_uuids() {
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let id = member_id(&mut rng);
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!("89ab".contains(&parts[3][..1]), "{id}");
        }
    }

    #[test]
    fn the_mix_has_every_kind_of_order() {
        let mut rng = Rng::new(5);
        let plans: Vec<Plan> = (0..1000).map(|_| Plan::pick(&mut rng)).collect();
        let count = |f: &dyn Fn(&Plan) -> bool| plans.iter().filter(|p| f(p)).count();
        assert!(count(&|p| *p == Plan::Plain) > 700);
        assert!(count(&|p| *p == Plan::Large { approve: true }) > 30);
        assert!(count(&|p| *p == Plan::Large { approve: false }) > 10);
        assert!(count(&|p| *p == Plan::Cancel) > 30);
        assert!(count(&|p| *p == Plan::Declined) > 20);
    }
}
